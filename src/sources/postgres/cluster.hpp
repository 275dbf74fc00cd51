// What Lifeboat asks a running PostgreSQL about itself, and the non-exclusive backup API
// (pg_backup_start / pg_backup_stop, PostgreSQL 15). The backup session must stay on one
// connection: closing it aborts an unfinished backup, which is exactly what a crash should do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sources/postgres/connection.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres {

struct ClusterInfo {
    std::string system_identifier;
    int server_version = 0;
    std::string data_directory;
    std::uint64_t wal_segment_size = 0;
    bool data_checksums = false;
    std::uint32_t block_size = 8192;
    std::string archive_mode;  // off | on | always
    std::string archive_command;
    bool in_recovery = false;
};

Result<ClusterInfo> describe_cluster(Connection& conn);

// The server's clock, which is the clock of commit timestamps.
Result<Timestamp> server_now(Connection& conn);

// When archive_command failed more recently than it succeeded (pg_stat_archiver), that failure
// in one line: "pg_stat_archiver: the last archive_command failure was WAL <name> at <time>
// (<n> failures, last success ...)"; nothing while archiving works.
Result<std::optional<std::string>> archiver_failure(Connection& conn);

struct BackupStartInfo {
    std::string start_lsn;  // "0/2000028"
    std::string start_wal;  // segment holding start_lsn
    std::uint32_t timeline = 1;
    Timestamp start_time;
};

struct BackupStopInfo {
    std::string stop_lsn;
    std::string stop_wal;  // last segment needed for consistency
    std::string backup_label;
    std::string tablespace_map;
    Timestamp stop_time;
};

// Calls pg_backup_start(label, fast => true): an immediate checkpoint, so the backup starts now.
Result<BackupStartInfo> start_backup(Connection& conn, const std::string& label);

// Calls pg_backup_stop(wait_for_archive => false): PostgreSQL switches to a new WAL segment so
// the last one the backup needs can be archived, and returns at once. The caller waits for that
// WAL itself, with a timeout (PostgreSQL's own wait never ends when archiving is broken).
Result<BackupStopInfo> stop_backup(Connection& conn);

}  // namespace lifeboat::postgres
