// Walks a PostgreSQL data directory (and its tablespaces) and lists what a base backup must copy,
// applying PostgreSQL's exclusion rules (relation_file.hpp). Tablespace contents are listed under
// pg_tblspc/<oid>/, the way PostgreSQL itself addresses them.
//
// Links are not followed, except pg_tblspc/<oid> (tablespaces, listed as tablespace_link with
// their contents below), pg_wal (initdb -X) and the top-level names a restore writes or the
// server needs in place (k_followed_top_level_links: configuration files, base, global, ...),
// which are read through as if they were not links. Any other link is listed as a link with its
// target, never read through: a link to /etc or a loop costs one entry. A directory reached twice
// (a followed link looping back) is walked once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres {

enum class DataEntryType { directory, file, tablespace_link, symlink };

inline constexpr std::string_view k_followed_top_level_links[] = {
    "pg_wal",          "base",           "global",
    "pg_tblspc",       "PG_VERSION",     "postgresql.conf",
    "pg_hba.conf",     "pg_ident.conf",  "postgresql.auto.conf",
    "recovery.signal", "standby.signal", "lifeboat-restore.log"};

struct DataEntry {
    std::string path;   // relative to the data directory, '/'-separated
    fs::path absolute;  // where to read it
    DataEntryType type = DataEntryType::file;
    std::uint32_t mode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;              // seconds
    std::int64_t mtime_nsec = 0;         // and nanoseconds
    std::string link_target;             // tablespace location, or a link's target
    bool is_relation = false;            // a relation data file: page checksums apply
    std::uint32_t relation_segment = 0;  // its segment number (.N suffix)
};

struct TablespaceInfo {
    std::uint32_t oid = 0;
    std::string location;
};

struct DataDirectoryScan {
    std::vector<DataEntry> entries;  // directories before their contents
    std::vector<TablespaceInfo> tablespaces;
    std::uint64_t total_bytes = 0;
};

Result<DataDirectoryScan> scan_data_directory(const fs::path& pgdata);

}  // namespace lifeboat::postgres
