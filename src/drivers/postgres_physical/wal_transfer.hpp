// wal-push and wal-fetch: the two halves of continuous archiving. PostgreSQL calls them through
// archive_command ('lifeboat wal-push %p') and restore_command ('lifeboat wal-fetch %f %p').
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_physical {

// Archives the file at `path` (relative paths are relative to the working directory, which is
// the data directory when PostgreSQL runs archive_command). Segments are scanned for commit
// timestamps, which bound the restorable window.
// Archives the file at `path` into `repository` (opened by the caller); its push time is
// ctx.now().
Result<repo::PushOutcome> wal_push(repo::Repository& repository, const fs::path& path,
                                   const OperationContext& ctx);

// Refuses WAL of cluster `system_identifier` (decimal) when the repository protects another
// (ErrorCode::conflict); records it as the repository's cluster when none is recorded yet.
Status check_same_cluster(Storage& storage, const std::string& system_identifier);

// Opens the repository when called. wal_fetch and wal_prefetch open it only when they need it:
// a segment already in the spool is handed to PostgreSQL even when the repository cannot be
// opened now, and a second prefetcher gives up before opening (and deriving a key) at all.
using RepositoryOpener = std::function<Result<repo::Repository>()>;

struct WalFetchOptions {
    std::string name;       // %f
    fs::path destination;   // %p
    unsigned prefetch = 8;  // segments to fetch ahead in the background (0: none)
    // The command that runs wal_prefetch in a new process (the CLI's hidden `wal-prefetch`);
    // wal_fetch appends --spool, --after, --segment-size and --count. Empty: no prefetch.
    std::vector<std::string> prefetch_command;
};

// Restores archived file `name` to `destination` atomically. ErrorCode::not_found when the
// archive does not have it (PostgreSQL then ends recovery); ErrorCode::corrupt when it is damaged.
//
// Prefetch: after handing over a segment, a detached background process (one at a time, guarded
// by a lock file) fetches, verifies and stores the next `prefetch` segments in a spool directory
// beside the destination ("pg_wal/lifeboat-prefetch"), so that the next calls only rename a file
// while PostgreSQL replays. A call served from the spool while a prefetcher runs, or with the
// next `prefetch` segments spooled already, returns without opening the repository. Spooled files
// are complete and checked (written to a temporary name, then renamed); the spool is removed when a
// segment is not found (recovery is ending). A call that misses a segment the running
// prefetcher is fetching (its plan, "pg_wal/lifeboat-prefetch/.plan", names it) waits for it.
Status wal_fetch(const RepositoryOpener& open_repository, const WalFetchOptions& options);

// The prefetch process: unless another one holds the spool's lock, fetches the `count` segments
// after `after` into `spool` (stopping at the first one missing). Failures only end it early.
struct WalPrefetchOptions {
    fs::path spool;
    std::string after;  // the segment just handed to PostgreSQL
    std::uint64_t segment_size = 0;
    unsigned count = 0;
};
Status wal_prefetch(const RepositoryOpener& open_repository, const WalPrefetchOptions& options);

// What a restore fetches into a new data directory's spool while it writes the files, so that
// recovery finds the first segments ready (restore --start; the CPU the file writers leave idle
// does the work that otherwise held up replay, one segment at a time).
struct SpoolFill {
    fs::path data_dir;
    postgres::WalSegment first;  // the segment holding the backup's start
    std::uint64_t segment_size = 0;
    unsigned count = 0;                        // at most this many segments
    std::optional<postgres::WalSegment> last;  // none after this one (a position target)
    std::optional<Timestamp> until;            // none after the first whose commits pass this time
    std::optional<UserAccount> owner;          // the account the server runs as (files given to it)
};

// Fetches the segments of `fill` in order, one at a time, into `data_dir`/pg_wal's spool, holding
// the spool's lock and naming them in its plan: wal-fetch takes them from there, or waits for
// the one it needs, and starts no prefetcher of its own meanwhile. Stops at a segment the
// archive does not have, after `last` or `until`, when `stop` is set, and when the recovery is
// over; then releases the lock, so wal-fetch's own prefetch takes over. Never fails: a segment
// not spooled is fetched by wal-fetch itself. Returns how many segments it spooled.
unsigned fill_prefetch_spool(const Storage& storage, const SpoolFill& fill,
                             const std::atomic<bool>& stop);

// Ends prefetching in `data_dir` once its recovery is over: waits up to `timeout` for a running
// prefetch process to let go of the spool, then removes the spool, so that nothing of Lifeboat
// writes into the data directory after the restore reports the server ready. A prefetcher also
// stops by itself, and removes the spool, when it finds the recovery over (recovery.signal and
// standby.signal gone). A prefetcher still running at the timeout is only logged.
Status retire_prefetch(const fs::path& data_dir, std::chrono::milliseconds timeout,
                       const OperationContext& ctx);

}  // namespace lifeboat::postgres_physical
