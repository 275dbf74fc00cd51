// WAL archiving as the server sees it: the archiver's statistics (pg_stat_archiver), its
// settings, and a forced switch to a new WAL segment (what `lifeboat check` archives and waits
// for). Needs a superuser, or an account granted EXECUTE on pg_switch_wal and
// pg_create_restore_point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sources/postgres/connection.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres {

// One row of pg_stat_archiver. Names are "" and times nullopt when the server has none yet.
struct ArchiverStatus {
    std::uint64_t archived_count = 0;
    std::string last_archived_wal;
    std::optional<Timestamp> last_archived_time;
    std::uint64_t failed_count = 0;
    std::string last_failed_wal;
    std::optional<Timestamp> last_failed_time;
    std::optional<Timestamp> stats_reset;
};

Result<ArchiverStatus> archiver_status(Connection& conn);

struct ArchiveSettings {
    std::string archive_mode;     // off | on | always
    std::string archive_command;  // "" when unset
    std::string archive_library;  // "" when unset; when set, PostgreSQL ignores archive_command
    bool in_recovery = false;
    std::string system_identifier;  // "" when the account may not read pg_control_system()
};

Result<ArchiveSettings> archive_settings(Connection& conn);

// Forces PostgreSQL to finish the current WAL segment and returns its name: the next file the
// archiver hands to archive_command. A restore point named `label` is written first, so that
// there is always WAL to switch away from (on an idle server pg_switch_wal would otherwise do
// nothing and name the segment finished by an earlier switch).
Result<std::string> switch_wal(Connection& conn, const std::string& label);

// What the server log says about the newest failure of archive_command: the line the command
// wrote just before PostgreSQL's "archive command failed with exit code N", followed by that
// exit code in parentheses. Best effort: nullopt when the log is not readable through SQL (no
// logging_collector, or an account without pg_read_server_files), holds no such failure in its
// last 64 KiB, or is written in another language.
std::optional<std::string> last_archive_failure_in_log(Connection& conn);

// The part of `log` (the tail of a server log) described above; nullopt when it has none.
std::optional<std::string> find_archive_failure(std::string_view log);

}  // namespace lifeboat::postgres
