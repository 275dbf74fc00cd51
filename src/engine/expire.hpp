// expire: applies the retention policy to a repository (docs/operations.md, "Retention and
// expiry"). In order, each step leaving a repository that passes `verify`:
//   1. lock     take the exclusive repository lock; wait for running backups/restores to finish
//   2. plan     decide which backups go (retention.hpp) and which WAL no retained backup and no
//               moment of the recovery window needs
//   3. backups  delete the manifests of expired backups, then their lapsed pins
//   4. wal      delete WAL older than the window's first backup, except what each retained backup
//               needs to become consistent (its start..stop segments) and every timeline history
//   5. repack   copy the live blocks of mostly-garbage packs into new packs
//   6. index    write one index naming every surviving and new pack, then delete the old ones
//   7. packs    delete packs no retained backup needs (and the repacked ones)
// A crash anywhere leaves either unreferenced packs (collected by the next run) or blocks listed
// twice (harmless); the next `expire` completes the job. `dry_run` stops after planning, takes no
// lock and writes nothing, and reports exactly what would go.
// In a repository with object lock (RepositoryConfig::object_lock) expire never asks the store to
// delete an object still under retention (write time + the configured days): an expired backup
// whose manifest is retained is kept (with its blocks and WAL) and reported, other retained
// objects are left and counted in kept_locked; packs are not rewritten (that would only add
// retained bytes). A removal the store refuses anyway (a legal hold) is counted the same way.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "engine/retention.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

// A clock for tests that simulates days in seconds: simulated = sim_anchor + (real - real_anchor)
// * scale. Only the retention decision sees simulated time (backup stop times and "now").
struct ScaledClock {
    Timestamp real_anchor;
    Timestamp sim_anchor;
    double scale = 1;
    Timestamp simulate(Timestamp real) const;
};
// "REAL_ISO SIM_ISO SCALE", e.g. "2026-11-26T10:00:00Z 2026-11-30T12:00:00Z 1800".
Result<ScaledClock> parse_scaled_clock(std::string_view text);

struct ExpireOptions {
    RetentionPolicy policy;
    bool dry_run = false;
    double repack_below =
        0.5;  // rewrite a pack when less than this fraction of its blocks (bytes) is live
    unsigned jobs = 0;
    // Memory for the set of blocks the retained backups reference (16 MiB: half a million
    // ids, 128 GiB of 256 KiB blocks); beyond it the set spills sorted runs to a temporary
    // directory in `scratch_dir` (empty: $TMPDIR, else /tmp) and looks ids up on disk.
    std::size_t block_set_memory = 16u << 20;
    fs::path scratch_dir;
    std::chrono::seconds lock_wait{3600};
    std::optional<ScaledClock> clock;
    repo::LockWaitFn on_wait;
};

struct ExpiredBackupInfo {
    std::string id;
    Timestamp stop_time;
    bool keep = false;
    std::vector<std::string> reasons;
};

struct ExpireOutcome {
    bool dry_run = false;
    std::string policy;  // RetentionPolicy::describe()
    Timestamp now;       // as the policy saw it
    // For stderr: damaged pins (kept for ever), and damage worked around (a damaged index
    // object: its packs were judged by their own footers instead).
    std::vector<std::string> warnings;
    std::vector<ExpiredBackupInfo> backups;  // oldest first, kept and expired
    std::vector<std::string> expired;        // ids of backups removed (or that would be)
    std::size_t pins_removed = 0;
    std::vector<std::string> wal_removed;  // names, sorted
    std::uint64_t wal_bytes = 0;
    std::size_t packs_deleted = 0;         // wholly garbage
    std::size_t packs_repacked = 0;        // mostly garbage: live blocks moved, pack deleted
    std::uint64_t pack_bytes_deleted = 0;  // sizes of deleted and repacked packs
    std::uint64_t live_bytes_moved = 0;    // blocks copied out of repacked packs
    std::size_t indexes_replaced = 0;
    // In a repository with object lock: objects this run would have removed but left because the
    // store still retains them (manifests, pins, WAL, packs, indexes), and the earliest time one of
    // them can go (nullopt when none was kept). A later run removes them once retention passes.
    std::size_t kept_locked = 0;
    std::optional<Timestamp> kept_locked_until;
    std::uint64_t freed_bytes() const {
        return wal_bytes + pack_bytes_deleted - std::min(pack_bytes_deleted, live_bytes_moved);
    }
};

// Expires in `repository` (opened by the caller). "Now" is ctx.now() (through `options.clock`
// when set); stages plan, backups, wal, repack, index and packs reach ctx.stage; a cancellation
// (in the lock wait or at any stage) returns ErrorCode::interrupted, the lock released and the
// repository as a crash there would leave it (the next expire completes the job).
Result<ExpireOutcome> run_expire(repo::Repository& repository, const ExpireOptions& options,
                                 const OperationContext& ctx);

}  // namespace lifeboat::engine
