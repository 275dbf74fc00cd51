#include "agent/microhttpd_library.hpp"

namespace lifeboat::agent::microhttpd_library {

const SharedLibrary& library() {
    static const SharedLibrary microhttpd("libmicrohttpd.so.12", "libmicrohttpd",
                                          "libmicrohttpd12");
    return microhttpd;
}

}  // namespace lifeboat::agent::microhttpd_library
