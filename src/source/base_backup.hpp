// BaseBackup: a driver's half of a backup (docs/architecture.md, "Source drivers"). The engine
// opens the repository, takes its shared lock, refuses a second source, loads the block index,
// and publishes index and manifest at the end; the driver copies the source's content
// consistently into a ContentSink and describes what it copied.
//
// Physical PostgreSQL: pg_backup_start, the data directory's files cut into blocks (pages
// checked), pg_backup_stop, then a wait until the WAL the backup needs is archived. A logical
// PostgreSQL source would export a snapshot from a replication slot and COPY each table under it
// (one entry per table); a MongoDB source would dump each collection (one entry per collection)
// and note the change stream's resume point: both fit the same two calls.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "repository/block.hpp"
#include "repository/manifest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::source {

enum class BackupType { incremental, full };  // full: read everything again

// Where a driver's content goes: the repository's block writer, deduplicating.
class ContentSink {
  public:
    virtual ~ContentSink() = default;
    // How content is cut into blocks (the repository's block size).
    virtual std::uint32_t block_size() const = 0;
    // How many workers may call store() at once (worker numbers 0 .. workers()-1).
    virtual unsigned workers() const = 0;
    // Stores `bytes` as one block unless the repository has it; its id. From worker `worker`'s
    // thread only.
    virtual Result<repo::BlockId> store(std::string_view bytes, unsigned worker) = 0;
    // Whether the repository already holds block `id` (so an unchanged entry can be reused).
    virtual bool holds(const repo::BlockId& id) const = 0;
    // Asked before each chunk of work: an error (the repository lock lost, a cancellation) stops
    // the backup with it.
    virtual Status keep_going() = 0;
    // Whether log object `name` is in the repository's archive (a backup needs its log).
    virtual Result<bool> log_object_archived(const std::string& name) const = 0;
    // The stored summary of log object `name` (its payload, in the driver's own encoding):
    // ErrorCode::not_found when there is none, ErrorCode::corrupt when it is damaged.
    virtual Result<std::string> log_object_summary(const std::string& name) const {
        return fail(ErrorCode::not_found, "no summary of {}", name);
    }
    // The content of archived log object `name`, fetched and checked: ErrorCode::not_found when
    // it is not archived.
    virtual Result<std::string> log_object(const std::string& name) const {
        return fail(ErrorCode::not_found, "{} is not in the archive", name);
    }
    // The first `size` bytes of archived log object `name`, the whole of it still checked: for a
    // reader that needs only its beginning (memory: a repository streams the rest instead of
    // holding it). ErrorCode::not_found when it is not archived.
    virtual Result<std::string> log_object_head(const std::string& name, std::size_t size) const {
        std::string whole = LB_TRY(log_object(name));
        whole.resize(std::min(size, whole.size()));
        return whole;
    }
};

struct BaseBackupRequest {
    std::string conninfo;                    // how to reach the source
    std::optional<fs::path> data_directory;  // PostgreSQL: default the server's own
    BackupType type = BackupType::incremental;
    std::chrono::seconds archive_timeout{300};  // how long to wait for the log the backup needs
    std::chrono::seconds statement_timeout{3600};
    std::string repository_location;  // for messages ("archive_command = 'lifeboat wal-push …'")
    // The repository's id (32 hex digits), for what the source keeps per repository (a logical
    // source's replication slot is named after it).
    std::string repository_id;
    // postgres-logical: a table whose pg_relation_size exceeds this is copied in block (ctid)
    // ranges of about this size on parallel connections (0: never split).
    std::uint64_t split_table_bytes = 64ULL * 1024 * 1024;
    // Share of the blocks an incremental skips (from log summaries) read again to check them:
    // 0 .. 1 (1: all, `backup --verify-unchanged`); at most k_max_sampled_blocks when below 1.
    double verify_unchanged_share = 0.01;
};

inline constexpr std::uint64_t k_max_sampled_blocks = 64;

// What the driver copied: the manifest's source, times, log position, entries, payload and the
// stats it knows (files, data_bytes, reused_files, read_bytes); the engine adds id, tags,
// indexes and the storage figures.
// How an incremental backup chose what to read (for `backup --json`).
struct ReadFacts {
    // "full" (nothing to compare with, or --type full), "timestamps" (size and modification
    // time), "wal-summaries" (blocks the log says changed).
    std::string method = "full";
    std::string fallback_reason;        // why summaries were not used (empty when they were)
    std::uint64_t read_blocks = 0;      // blocks read from the source
    std::uint64_t skipped_blocks = 0;   // blocks of summarised files taken from the previous backup
    std::uint64_t verified_blocks = 0;  // skipped blocks read again to check the summaries
    std::uint64_t mismatched_blocks = 0;  // of those, blocks that had changed after all
    std::uint64_t summarised_files = 0;   // files planned from the summaries
};

struct BaseBackupResult {
    repo::Manifest manifest;
    ReadFacts read;
    std::vector<std::string> warnings;  // for the operator (e.g. page checksum failures)
};

class BaseBackup {
  public:
    virtual ~BaseBackup() = default;
    // The source as connected (kind, identity, version): checked against the repository's
    // before any content is copied.
    virtual const repo::SourceInfo& source() const = 0;
    // Copies the content consistently into `sink`, reusing unchanged entries of `previous` (the
    // repository's newest readable backup of this source, or nullptr) when the request is
    // incremental, and returns once the log the backup needs is archived. Nothing is published.
    // Progress, waits and cancellation go through `ctx` (stage "backup:files" before content).
    virtual Result<BaseBackupResult> copy(const repo::Manifest* previous, ContentSink& sink,
                                          const OperationContext& ctx) = 0;
};

}  // namespace lifeboat::source
