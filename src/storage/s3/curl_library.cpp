#include "storage/s3/curl_library.hpp"

namespace lifeboat::s3::curl_library {

const SharedLibrary& library() {
    static const SharedLibrary curl("libcurl.so.4", "libcurl", "libcurl4");
    return curl;
}

}  // namespace lifeboat::s3::curl_library
