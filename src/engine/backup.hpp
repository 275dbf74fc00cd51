// backup: a consistent backup of a source into a repository. The source's driver (for
// postgres-physical: drivers/postgres_physical/base_backup.hpp) copies the content into packs
// and waits for the log the backup needs; this side holds the repository's shared lock, refuses
// a second source, reuses what the repository holds, and publishes index then manifest.
// Until the manifest is published the backup does not exist; a crash anywhere before leaves only
// packs, which the next backup adopts.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "repository/manifest.hpp"
#include "repository/repository.hpp"
#include "source/base_backup.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

using source::BackupType;

struct BackupOptions {
    std::string source_kind = std::string(repo::k_kind_postgres_physical);
    std::string conninfo;
    std::optional<fs::path> pgdata;  // default: the server's data_directory
    std::map<std::string, std::string> tags;
    BackupType type = BackupType::incremental;  // full: re-read every file
    unsigned jobs = 0;                          // 0: one per core
    std::chrono::seconds archive_timeout{300};
    // Per statement, pg_backup_start's checkpoint and pg_backup_stop's wait included (0: none).
    std::chrono::seconds pg_timeout{3600};
    std::chrono::seconds lock_wait{3600};  // how long to wait for a running expire
    // postgres-logical: tables larger than this are copied in ctid ranges (0: never split).
    std::uint64_t split_table_bytes = 64ULL * 1024 * 1024;
    // Share of the blocks skipped thanks to WAL summaries read again to check them (1: all).
    double verify_unchanged_share = 0.01;
};

struct BackupOutcome {
    repo::Manifest manifest;
    std::size_t adopted_packs = 0;  // packs of an interrupted backup reused by this one
    std::vector<std::string> warnings;
    source::ReadFacts read;  // how the driver chose what to read
};

// Backs up into `repository` (opened by the caller). Progress, clock and cancellation come from
// `ctx`; stages "backup:files" (before the files are read) and "backup:publish" (before the
// manifest is written) reach ctx.stage. Cancelled, it returns ErrorCode::interrupted having
// released its lock and published nothing (packs only, adopted by the next backup).
Result<BackupOutcome> run_backup(repo::Repository& repository, const BackupOptions& options,
                                 const OperationContext& ctx);

}  // namespace lifeboat::engine
