// GNU libmicrohttpd (Debian's libmicrohttpd12), the agent's HTTP server, loaded when the agent
// starts rather than when the program starts: every other command (an archive_command starts
// once per WAL segment) would otherwise map and relocate a web server it never runs.
//
// Contract (util/shared_library.hpp): only agent/http_server.cpp includes this header, never
// <microhttpd.h> itself, and calls libmicrohttpd's functions by their own names, each named below
// as a macro for a pointer looked up once at its first call. A function used without being named
// here is an undefined reference at link time (the programs do not link libmicrohttpd).
#pragma once

#include <sys/socket.h>

#include <cstdarg>
#include <cstdint>

#include <microhttpd.h>

#include "util/error.hpp"
#include "util/shared_library.hpp"

namespace lifeboat::agent::microhttpd_library {

const SharedLibrary& library();

// Loads libmicrohttpd if it is not loaded yet: ErrorCode::io naming it when it cannot be.
inline Status load() {
    return library().load();
}

}  // namespace lifeboat::agent::microhttpd_library

#define LB_MHD_FUNCTION(fn) \
    LB_SHARED_LIBRARY_FUNCTION(::lifeboat::agent::microhttpd_library::library(), fn)

// Every libmicrohttpd function the programs call (sorted).
#define MHD_add_response_header LB_MHD_FUNCTION(MHD_add_response_header)
#define MHD_create_response_from_buffer LB_MHD_FUNCTION(MHD_create_response_from_buffer)
#define MHD_destroy_response LB_MHD_FUNCTION(MHD_destroy_response)
#define MHD_lookup_connection_value LB_MHD_FUNCTION(MHD_lookup_connection_value)
#define MHD_queue_response LB_MHD_FUNCTION(MHD_queue_response)
#define MHD_start_daemon LB_MHD_FUNCTION(MHD_start_daemon)
#define MHD_stop_daemon LB_MHD_FUNCTION(MHD_stop_daemon)
