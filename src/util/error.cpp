#include "util/error.hpp"

namespace lifeboat {

namespace {
struct CodeInfo {
    ErrorCode code;
    std::string_view name;
    int exit_status;
};
// Exit statuses are data, in one place. 1 is reserved for "not found" because PostgreSQL's
// restore_command treats any status from 1 to 125 as "file not in the archive".
constexpr CodeInfo k_codes[] = {
    {ErrorCode::not_found, "not_found", 1},
    {ErrorCode::usage, "usage", 2},
    {ErrorCode::config, "config", 3},
    {ErrorCode::not_a_repository, "not_a_repository", 4},
    {ErrorCode::repository, "repository", 5},
    {ErrorCode::corrupt, "corrupt", 6},
    {ErrorCode::conflict, "conflict", 7},
    {ErrorCode::database, "database", 8},
    {ErrorCode::outside_window, "outside_window", 9},
    {ErrorCode::check_failed, "check_failed", 10},
    {ErrorCode::io, "io", 11},
    {ErrorCode::interrupted, "interrupted", 12},
    {ErrorCode::unavailable, "unavailable", 13},
    {ErrorCode::read_only, "read_only", 14},
    {ErrorCode::unsupported, "unsupported", 15},
    {ErrorCode::internal, "internal", 70},
};
}  // namespace

int exit_status(ErrorCode code) {
    for (const auto& info : k_codes) {
        if (info.code == code) return info.exit_status;
    }
    return 70;
}

std::string_view error_code_name(ErrorCode code) {
    for (const auto& info : k_codes) {
        if (info.code == code) return info.name;
    }
    return "internal";
}

}  // namespace lifeboat
