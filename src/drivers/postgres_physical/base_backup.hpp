// The physical PostgreSQL base backup (source/base_backup.hpp): a consistent copy of a running
// PostgreSQL 15 through the non-exclusive backup API, reading the data directory directly with
// parallel workers.
//
// Order of work: pg_backup_start -> files into the sink (page checksums checked; unchanged files
// of the previous backup reused, backup_plan.hpp) -> pg_backup_stop -> wait until every WAL
// segment from start to stop is archived (quoting pg_stat_archiver's last failure while it
// waits, and in the timeout error).
#pragma once

#include <memory>

#include "source/base_backup.hpp"

namespace lifeboat::postgres_physical {

// Connects to the server and checks it can be backed up: PostgreSQL 15, archive_mode on, and
// `request.data_directory` (when given) the one the server uses. ErrorCode::database or usage
// otherwise.
Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request);

}  // namespace lifeboat::postgres_physical
