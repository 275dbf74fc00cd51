// backup: a consistent physical backup of a running PostgreSQL 15, through the non-exclusive
// backup API, reading the data directory directly with parallel workers.
//
// Order of work: pg_backup_start -> files into packs -> pg_backup_stop (waits for the WAL the
// backup needs to be archived) -> check that WAL is in the repository -> index -> manifest.
// Until the manifest is published the backup does not exist; a crash anywhere before leaves only
// packs, which the next backup adopts.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/backup_plan.hpp"
#include "engine/progress.hpp"
#include "repository/manifest.hpp"
#include "repository/repository.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

struct BackupOptions {
    std::string conninfo;
    std::optional<fs::path> pgdata;  // default: the server's data_directory
    std::map<std::string, std::string> tags;
    BackupType type = BackupType::incremental;  // full: re-read every file
    unsigned jobs = 0;                          // 0: one per core
    std::chrono::seconds archive_timeout{300};
    // Per statement, pg_backup_start's checkpoint and pg_backup_stop's wait included (0: none).
    std::chrono::seconds pg_timeout{3600};
    std::chrono::seconds lock_wait{3600};  // how long to wait for a running expire
};

struct BackupOutcome {
    repo::Manifest manifest;
    std::size_t adopted_packs = 0;  // packs of an interrupted backup reused by this one
    std::vector<std::string> warnings;
};

// Backs up into `repository` (opened by the caller). Progress, clock and cancellation come from
// `ctx`; stages "backup:files" (before the files are read) and "backup:publish" (before the
// manifest is written) reach ctx.stage. Cancelled, it returns ErrorCode::interrupted having
// released its lock and published nothing (packs only, adopted by the next backup).
Result<BackupOutcome> run_backup(repo::Repository& repository, const BackupOptions& options,
                                 const OperationContext& ctx);

}  // namespace lifeboat::engine
