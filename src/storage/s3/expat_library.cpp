#include "storage/s3/expat_library.hpp"

namespace lifeboat::s3::expat_library {

const SharedLibrary& library() {
    static const SharedLibrary expat("libexpat.so.1", "libexpat", "libexpat1");
    return expat;
}

}  // namespace lifeboat::s3::expat_library
