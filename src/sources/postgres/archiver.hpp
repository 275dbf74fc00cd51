// WAL archiving as the server sees it: the archiver's statistics (pg_stat_archiver), its
// settings, and a forced switch to a new WAL segment (what `lifeboat check` archives and waits
// for). Needs a superuser, or an account granted EXECUTE on pg_switch_wal and
// pg_create_restore_point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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
};

Result<ArchiveSettings> archive_settings(Connection& conn);

// Forces PostgreSQL to finish the current WAL segment and returns its name: the next file the
// archiver hands to archive_command. A restore point named `label` is written first, so that
// there is always WAL to switch away from (on an idle server pg_switch_wal would otherwise do
// nothing and name the segment finished by an earlier switch).
Result<std::string> switch_wal(Connection& conn, const std::string& label);

}  // namespace lifeboat::postgres
