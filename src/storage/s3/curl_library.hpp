// libcurl (Debian's libcurl4, the OpenSSL build), loaded the first time one of its functions is
// called rather than when the program starts: libcurl and what it alone brings (nghttp2,
// libssh2, librtmp, libpsl; GnuTLS and the rest come with libpq's LDAP anyway), 1.3 MiB of
// libraries mapped and relocated on every start, which only the S3 backend needs (an
// archive_command to a local repository starts once per WAL segment and never does).
//
// Contract (util/shared_library.hpp): code of the S3 backend includes this header, never
// <curl/curl.h> itself, and calls curl's functions by their own names, each named below as a
// macro for a pointer looked up once at its first call. A function used without being named here
// is an undefined reference at link time (the programs do not link libcurl).
#pragma once

#include <curl/curl.h>

#include "util/error.hpp"
#include "util/shared_library.hpp"

namespace lifeboat::s3::curl_library {

const SharedLibrary& library();

// Loads libcurl if it is not loaded yet: ErrorCode::io naming it when it cannot be.
inline Status load() {
    return library().load();
}

}  // namespace lifeboat::s3::curl_library

#define LB_CURL_FUNCTION(fn) LB_SHARED_LIBRARY_FUNCTION(::lifeboat::s3::curl_library::library(), fn)

// curl.h makes these three-argument function-like macros (to count arguments); the calls go
// through the pointers instead.
#undef curl_easy_setopt
#undef curl_easy_getinfo

// Every libcurl function the programs and tests call (sorted).
#define curl_easy_cleanup LB_CURL_FUNCTION(curl_easy_cleanup)
#define curl_easy_getinfo LB_CURL_FUNCTION(curl_easy_getinfo)
#define curl_easy_init LB_CURL_FUNCTION(curl_easy_init)
#define curl_easy_perform LB_CURL_FUNCTION(curl_easy_perform)
#define curl_easy_reset LB_CURL_FUNCTION(curl_easy_reset)
#define curl_easy_setopt LB_CURL_FUNCTION(curl_easy_setopt)
#define curl_easy_strerror LB_CURL_FUNCTION(curl_easy_strerror)
#define curl_getdate LB_CURL_FUNCTION(curl_getdate)
#define curl_global_init LB_CURL_FUNCTION(curl_global_init)
#define curl_slist_append LB_CURL_FUNCTION(curl_slist_append)
#define curl_slist_free_all LB_CURL_FUNCTION(curl_slist_free_all)
