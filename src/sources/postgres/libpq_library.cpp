#include "sources/postgres/libpq_library.hpp"

namespace lifeboat::postgres::libpq {

const SharedLibrary& library() {
    static const SharedLibrary pq("libpq.so.5", "libpq", "libpq5");
    return pq;
}

}  // namespace lifeboat::postgres::libpq
