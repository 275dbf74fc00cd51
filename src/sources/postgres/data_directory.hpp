// Walks a PostgreSQL data directory (and its tablespaces) and lists what a base backup must copy,
// applying PostgreSQL's exclusion rules (relation_file.hpp). Tablespace contents are listed under
// pg_tblspc/<oid>/, the way PostgreSQL itself addresses them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres {

enum class DataEntryType { directory, file, tablespace_link };

struct DataEntry {
    std::string path;   // relative to the data directory, '/'-separated
    fs::path absolute;  // where to read it
    DataEntryType type = DataEntryType::file;
    std::uint32_t mode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;              // seconds
    std::int64_t mtime_nsec = 0;         // and nanoseconds
    std::string link_target;             // tablespace location
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
