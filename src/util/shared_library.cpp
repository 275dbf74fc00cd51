#include "util/shared_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace lifeboat {

void SharedLibrary::open() const {
    std::call_once(m_once, [this] {
        // RTLD_NOW: a library missing a function it needs fails here, not mid-operation.
        m_handle = dlopen(m_soname, RTLD_NOW | RTLD_LOCAL);
        if (!m_handle) {
            const char* why = dlerror();
            m_error = why ? why : "unknown error";
        }
    });
}

std::string SharedLibrary::unavailable_message() const {
    return fmt::format("{} ({}) cannot be loaded: {} (install the package {})", m_what, m_soname,
                       m_error, m_package);
}

Status SharedLibrary::load() const {
    open();
    if (!m_handle) return fail(ErrorCode::io, "{}", unavailable_message());
    return {};
}

void* SharedLibrary::symbol(const char* name) const {
    open();
    if (!m_handle) throw LibraryUnavailable(unavailable_message());
    void* address = dlsym(m_handle, name);
    if (!address) {
        throw LibraryUnavailable(fmt::format(
            "{} ({}) has no function {}: a newer version is needed", m_what, m_soname, name));
    }
    return address;
}

}  // namespace lifeboat
