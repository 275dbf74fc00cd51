#include "sources/mongodb/c_driver.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <string>

namespace lifeboat::mongodb::c_driver {

namespace {

// libmongoc's soname; it loads libbson (and ICU, libmongocrypt, ...) as its own dependencies,
// and dlsym on its handle finds libbson's functions too.
constexpr const char* k_library = "libmongoc-1.0.so.0";

struct Loaded {
    void* handle = nullptr;
    std::string error;  // dlerror() when handle is null
};

const Loaded& loaded() {
    static const Loaded once = [] {
        Loaded l;
        l.handle = dlopen(k_library, RTLD_NOW | RTLD_LOCAL);
        if (!l.handle) {
            const char* why = dlerror();
            l.error = why ? why : "unknown error";
        }
        return l;
    }();
    return once;
}

std::string unavailable_message(const Loaded& l) {
    return fmt::format(
        "the MongoDB C driver ({}) cannot be loaded: {} (install the package "
        "libmongoc-1.0-0)",
        k_library, l.error);
}

}  // namespace

Status load() {
    const Loaded& l = loaded();
    if (!l.handle) return fail(ErrorCode::io, "{}", unavailable_message(l));
    return {};
}

void* symbol(const char* name) {
    const Loaded& l = loaded();
    if (!l.handle) throw Unavailable(unavailable_message(l));
    void* address = dlsym(l.handle, name);
    if (!address)
        throw Unavailable(
            fmt::format("the MongoDB C driver ({}) has no function {}: a newer "
                        "version is needed",
                        k_library, name));
    return address;
}

}  // namespace lifeboat::mongodb::c_driver
