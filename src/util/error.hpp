// Error: the one failure type of Lifeboat. Every fallible function returns Result<T>
// (std::expected<T, Error>). An Error carries a code from the catalogue below, which decides the
// process exit status, and a message a person can act on (one line, no stack trace).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace lifeboat {

// The catalogue. Exit statuses are part of the CLI contract and documented in docs/cli.md;
// never renumber one.
enum class ErrorCode {
    usage,             // bad command line or malformed value (time, tag, number)
    config,            // unreadable or invalid configuration file / environment
    not_found,         // a named thing does not exist (backup id, WAL file, table)
    not_a_repository,  // path exists but holds no Lifeboat repository, or none exists
    repository,        // repository I/O failure or inconsistent state
    corrupt,           // checksum or format mismatch in stored data
    conflict,          // refusing to overwrite different content / target exists
    database,          // PostgreSQL unreachable, refused, or a query failed
    outside_window,    // requested recovery target is not restorable
    check_failed,      // validation or verification found problems
    io,                // local file system failure outside the repository
    interrupted,       // stopped by a signal
    unavailable,       // a transient failure that had no effect: trying again may succeed
    read_only,         // a write refused because the repository was opened read-only
    unsupported,       // the source holds something Lifeboat cannot back up or restore faithfully
    internal,          // a bug: a broken invariant
};

struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;

    // Prefixes context, e.g. err.context("backup {}", id) -> "backup X: original message".
    template <typename... Args>
    Error context(fmt::format_string<Args...> format, Args&&... args) const {
        return Error{code, fmt::format(format, std::forward<Args>(args)...) + ": " + message};
    }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

template <typename... Args>
std::unexpected<Error> fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
    return std::unexpected(Error{code, fmt::format(format, std::forward<Args>(args)...)});
}

// Process exit status for an error code (see docs/cli.md, "Exit status").
int exit_status(ErrorCode code);
std::string_view error_code_name(ErrorCode code);

}  // namespace lifeboat

// Propagates the error of an expression returning Result<T>/Status; yields the value otherwise.
// GNU statement expression: g++ and clang both support it, and it keeps call sites linear.
#define LB_TRY(expr)                                                                    \
    ({                                                                                  \
        auto&& lb_try_result_ = (expr);                                                 \
        if (!lb_try_result_) return std::unexpected(std::move(lb_try_result_).error()); \
        std::move(lb_try_result_).value();                                              \
    })

#define LB_CHECK(expr)                                                                      \
    do {                                                                                    \
        auto&& lb_check_result_ = (expr);                                                   \
        if (!lb_check_result_) return std::unexpected(std::move(lb_check_result_).error()); \
    } while (0)
