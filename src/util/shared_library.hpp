// A shared library opened (dlopen) the first time one of its functions is needed, not when the
// program starts: for libraries only some commands use (the MongoDB C driver, libcurl for S3),
// whose loading, and the libraries they load in turn, every other start would pay for (an
// archive_command starts once per WAL segment).
//
// Contract: the code that uses such a library includes a header of its own that names every
// function it calls as a macro over LB_SHARED_LIBRARY_FUNCTION (see sources/mongodb/c_driver.hpp
// and storage/s3/curl_library.hpp); the programs do not link the library, so a function used
// without being named there is an undefined reference at link time. When the library cannot be
// loaded, or lacks a function, the first call throws LibraryUnavailable (one line at the edges,
// util/exceptions.hpp); load() gives the same failure as an Error, for callers that want to fail
// before any work. Thread-safe.
#pragma once

#include <mutex>
#include <stdexcept>
#include <string>

#include "util/error.hpp"

namespace lifeboat {

// The library could not be loaded (not installed), or lacks a function this build needs.
struct LibraryUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class SharedLibrary {
  public:
    // `soname`: what dlopen is given ("libcurl.so.4"); `what`: how messages name the library
    // ("libcurl"); `package`: the Debian package that installs it.
    SharedLibrary(const char* soname, const char* what, const char* package)
        : m_soname(soname), m_what(what), m_package(package) {}
    SharedLibrary(const SharedLibrary&) = delete;
    SharedLibrary& operator=(const SharedLibrary&) = delete;

    // Loads the library if it is not loaded yet: ErrorCode::io naming it when it cannot be.
    Status load() const;
    // The address of the library's function `name`; throws LibraryUnavailable.
    void* symbol(const char* name) const;

  private:
    void open() const;
    std::string unavailable_message() const;

    const char* m_soname;
    const char* m_what;
    const char* m_package;
    mutable std::once_flag m_once;
    mutable void* m_handle = nullptr;
    mutable std::string m_error;  // dlerror() when the handle is null
};

}  // namespace lifeboat

// `fn` of `library` (an expression naming a SharedLibrary) resolved once per call site: a
// function-local static, so thread-safe, one dlsym each.
#define LB_SHARED_LIBRARY_FUNCTION(library, fn)                                                \
    ([]() {                                                                                    \
        static const auto resolved = reinterpret_cast<decltype(&::fn)>((library).symbol(#fn)); \
        return resolved;                                                                       \
    }())
