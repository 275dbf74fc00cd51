#include "util/exceptions.hpp"

#include <filesystem>
#include <new>

namespace lifeboat {

Error error_from_exception(const std::exception_ptr& exception) {
    try {
        std::rethrow_exception(exception);
    } catch (const std::filesystem::filesystem_error& e) {
        return Error{ErrorCode::io, e.what()};
    } catch (const std::bad_alloc&) {
        return Error{ErrorCode::io, "out of memory"};
    } catch (const std::exception& e) {
        return Error{ErrorCode::internal,
                     fmt::format("internal error: {} (a bug: please report it)", e.what())};
    } catch (...) {
        return Error{ErrorCode::internal,
                     "internal error: an unknown exception (a bug: please report it)"};
    }
}

}  // namespace lifeboat
