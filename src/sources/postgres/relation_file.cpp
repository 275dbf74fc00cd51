#include "sources/postgres/relation_file.hpp"

#include <array>
#include <vector>

namespace lifeboat::postgres {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t slash = path.find('/', start);
        const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
        parts.push_back(path.substr(start, end - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return parts;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// A positive decimal number without leading zeros that fits in 32 bits (OIDs, segment numbers).
std::optional<std::uint32_t> parse_number(std::string_view s) {
    if (!all_digits(s) || s.size() > 10 || s.front() == '0') return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : s)
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value > 0xFFFFFFFFu) return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

// True when the directory components (everything but the file name) are a database directory:
// base/<dboid>, global, or pg_tblspc/<tsoid>/PG_*/<dboid>.
bool is_relation_directory(const std::vector<std::string_view>& parts) {
    const std::size_t dirs = parts.size() - 1;
    if (dirs == 1) return parts[0] == "global";
    if (dirs == 2) return parts[0] == "base" && parse_number(parts[1]).has_value();
    if (dirs == 4) {
        return parts[0] == "pg_tblspc" && parse_number(parts[1]).has_value() &&
               parts[2].starts_with("PG_") && parse_number(parts[3]).has_value();
    }
    return false;
}

// "<relfilenode>[_fsm|_vm|_init][.<segno>]"
std::optional<RelationFile> parse_relation_name(std::string_view name) {
    RelationFile file;
    if (const auto dot = name.find('.'); dot != std::string_view::npos) {
        const auto segment = parse_number(name.substr(dot + 1));
        if (!segment) return std::nullopt;
        file.segment = *segment;
        name = name.substr(0, dot);
    }
    file.fork = "main";
    if (const auto underscore = name.find('_'); underscore != std::string_view::npos) {
        const std::string_view fork = name.substr(underscore + 1);
        if (fork != "fsm" && fork != "vm" && fork != "init") return std::nullopt;
        file.fork = std::string(fork);
        name = name.substr(0, underscore);
    }
    const auto relfilenode = parse_number(name);
    if (!relfilenode) return std::nullopt;
    file.relfilenode = *relfilenode;
    return file;
}

// "t<backend>_<relfilenode>[_fork][.segno]": a temporary relation's file.
bool looks_like_temp_relation(std::string_view name) {
    if (name.size() < 2 || name[0] != 't') return false;
    name.remove_prefix(1);
    const auto underscore = name.find('_');
    if (underscore == std::string_view::npos || !all_digits(name.substr(0, underscore))) {
        return false;
    }
    return parse_relation_name(name.substr(underscore + 1)).has_value();
}

constexpr std::array<std::string_view, 8> k_contents_excluded_dirs = {
    "pg_wal",    "pg_replslot",  "pg_dynshmem", "pg_notify",
    "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans",
};

constexpr std::array<std::string_view, 7> k_excluded_file_names = {
    "postmaster.pid",  "postmaster.opts",          "backup_label",         "tablespace_map",
    "backup_manifest", "postgresql.auto.conf.tmp", "current_logfiles.tmp",
};

}  // namespace

std::optional<RelationFile> parse_relation_file(std::string_view relative_path) {
    const auto parts = split_path(relative_path);
    if (parts.size() < 2 || !is_relation_directory(parts)) return std::nullopt;
    return parse_relation_name(parts.back());
}

bool is_excluded_from_backup(std::string_view relative_path, bool is_directory) {
    while (relative_path.size() > 1 && relative_path.back() == '/')
        relative_path.remove_suffix(1);
    const auto parts = split_path(relative_path);
    const std::string_view name = parts.back();
    if (name.starts_with("pgsql_tmp")) return true;

    for (const auto dir : k_contents_excluded_dirs) {
        if (parts[0] != dir) continue;
        if (parts.size() == 1) return false;  // the directory itself is kept, empty
        const bool archive_status =
            dir == "pg_wal" && parts.size() == 2 && name == "archive_status" && is_directory;
        return !archive_status;
    }

    if (is_directory) return false;
    // The log `lifeboat restore` leaves in the data directory it restored (where the operator
    // looks after a failed restore), which the restored server keeps writing: never backed up.
    if (parts.size() == 1 && name == "lifeboat-restore.log") return true;
    for (const auto excluded : k_excluded_file_names) {
        if (name == excluded) return true;
    }
    if (name.starts_with("pg_internal.init")) return true;  // also its pg_internal.init.<pid> temps
    // Temporary relations live only in database directories (never in global/).
    return parts.size() >= 2 && parts[0] != "global" && is_relation_directory(parts) &&
           looks_like_temp_relation(name);
}

std::optional<std::string> init_fork_prefix(std::string_view relative_path) {
    const auto file = parse_relation_file(relative_path);
    if (!file || file->fork != "init") return std::nullopt;
    const auto slash = relative_path.rfind('/');
    return std::string(relative_path.substr(0, slash + 1)) + std::to_string(file->relfilenode);
}

bool is_unlogged_non_init_fork(const std::string& relative_path,
                               const std::set<std::string>& init_fork_prefixes) {
    const auto file = parse_relation_file(relative_path);
    if (!file || file->fork == "init") return false;
    const auto slash = relative_path.rfind('/');
    return init_fork_prefixes.contains(relative_path.substr(0, slash + 1) +
                                       std::to_string(file->relfilenode));
}

}  // namespace lifeboat::postgres
