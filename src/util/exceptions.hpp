// Exceptions at the edges: standard-library and third-party calls may throw (filesystem_error,
// bad_alloc, …) although Lifeboat's own code returns Result/Status. Where an exception could
// escape (a worker thread, main), it is turned into an Error here, so the caller unwinds normally
// (locks released) and the user gets one line with the documented exit status. An exception that
// escaped a thread or main would call std::terminate, which does not unwind.
#pragma once

#include <exception>
#include <utility>

#include "util/error.hpp"

namespace lifeboat {

// The Error for an exception: filesystem_error and bad_alloc are io, anything else internal.
Error error_from_exception(const std::exception_ptr& exception);

// Calls `f` (returning Status); an exception escaping it becomes its Error.
template <typename F>
Status call_catching_exceptions(F&& f) {
    try {
        return std::forward<F>(f)();
    } catch (...) {
        return std::unexpected(error_from_exception(std::current_exception()));
    }
}

}  // namespace lifeboat
