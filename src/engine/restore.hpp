// restore: materialises a backup plus archived WAL as a NEW PostgreSQL instance in an empty
// directory, configured to recover to a target time (or to the end of the archive), and with
// `start` runs it until it accepts read-write connections, timing each phase (the measured RTO).
//
// Safety: the target directory must be empty or missing and must not be the source's data
// directory; the target time must be inside the restorable window; the new instance does not
// archive (archive_mode = off) unless asked to, so it can never write into the source's archive.
// On failure before the server starts, everything the restore wrote is removed again.
//
// Durability: when run_restore succeeds, every file and directory it wrote (data files, the
// recovery settings, backup_label, recovery.signal) is on stable storage (fdatasync / fsync, see
// engine/restore_files.hpp); a failed flush fails the restore and undoes it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "engine/window.hpp"
#include "io/durable_file.hpp"
#include "repository/block.hpp"
#include "repository/repository.hpp"
#include "source/restore_target.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::engine {

enum class StartServer { no, yes };
using source::NewInstanceArchiving;

struct RestoreOptions {
    // The repository as the new instance's restore_command names it, for a repository that is
    // not a local directory: the location exactly as the user gave it (endpoint and all).
    // Empty: Repository::location().
    std::string repository_location;
    // The key file of an encrypted repository, written into restore_command (a passphrase
    // reaches a server started with `start` through its environment).
    std::optional<fs::path> key_file;
    std::optional<Timestamp> target;       // nullopt: latest (replay all archived WAL)
    std::optional<std::string> backup_id;  // default: newest backup that reaches the target
    // Stop as soon as the backup is consistent (recovery_target = 'immediate'): what is left of a
    // backup kept by a GFS rule or a pin once expiry has removed the WAL after it. Not with target.
    bool consistent = false;
    // The timeline to follow (docs/operations.md, "Timelines"); recovery_target_timeline is
    // always written as the chosen id, never 'latest'.
    TimelineRequest timeline;
    fs::path target_dir;
    std::optional<int> port;
    StartServer start = StartServer::no;
    NewInstanceArchiving archiving = NewInstanceArchiving::off;
    std::map<std::uint32_t, fs::path> tablespace_dirs;  // oid -> new location
    std::optional<fs::path> source_pgdata;  // refused as a target (besides the manifest's)
    fs::path lifeboat_binary;               // used in restore_command
    std::optional<fs::path> pg_bin;
    std::string run_as_user = "postgres";  // when running as root
    unsigned jobs = 0;
    unsigned io_depth = 0;  // ranged reads of packs in flight; 0: the storage's default
    std::chrono::seconds start_timeout{3600};
    // The shared memory a started instance replays with (source::ReplayMemory).
    source::ReplayMemory replay_memory;
    // For kinds that load into a server (source::RestoreRequest): an existing empty database to
    // load into (implies start), and a single table to restore.
    std::optional<std::string> target_conninfo;
    std::optional<std::string> only_table;
    const FileSync* file_sync = nullptr;  // flushes the restored files (nullptr: the kernel's)
    // Files are written past the page cache where the file system allows it (MaterializeOptions);
    // false: through it.
    bool direct_writes = false;
    // Every block read is checked against its id (repo::BlockCheck::id), as verify does;
    // false: against the checksum it was stored with where it has one
    // (BlockCheck::stored_checksum).
    bool check_block_ids = false;
};

struct RestoreOutcome {
    std::string backup_id;
    std::uint32_t backup_timeline = 0;
    std::uint32_t timeline = 0;  // recovery_target_timeline
    std::optional<Timestamp> target;
    // The newest archived commit the chosen backup reaches along its timeline when the restore
    // was planned (the end of its window); nullopt when none is archived after it.
    std::optional<Timestamp> reach_end;
    fs::path target_dir;
    // Names of the recovery settings the backup carried (in postgresql.auto.conf), commented
    // out because the restore writes its own.
    std::vector<std::string> replaced_settings;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::uint64_t requests = 0;        // ranged reads of packs for the files
    std::uint64_t bytes_fetched = 0;   // by them (stored bytes, gaps included)
    std::uint64_t direct_bytes = 0;    // of `bytes`, written past the page cache
    repo::BlockChecks blocks_checked;  // MaterializeStats::checked
    unsigned io_depth = 0;             // ranged reads in flight at most
    double files_seconds = 0;          // writing the data directory, flushes included
    // Of files_seconds, waiting for the disk (engine/restore_files.hpp, MaterializeStats).
    double sync_seconds = 0;
    // Everything written is on stable storage (always true on success; reported so that a
    // caller can tell this from versions that left the flushing to the kernel).
    bool durable = false;
    // Finding the server programs, probing the server account and picking a port, done on a
    // second thread while the files are written (with --start): not part of the total.
    double prepare_seconds = 0;
    // Log objects the target fetched ahead for its recovery (RestoreTarget::prefetch_log).
    std::uint64_t log_prefetched = 0;
    double replay_seconds = 0;        // server start to end of recovery (promotion)
    double ready_seconds = 0;         // promotion to a working read-write connection
    source::RecoveryPhases recovery;  // replay_seconds broken down, as far as measured
    // The shared memory the instance replayed with when set for the run, 0: its configured one.
    std::uint64_t replay_memory_bytes = 0;
    // The max_wal_size it replayed with when raised for the replay alone, 0: its configured one.
    std::uint64_t replay_max_wal_size_bytes = 0;
    double total_seconds = 0;
    bool started = false;
    int port = 0;
    std::string conninfo;  // to reach the new instance when started
    // Damage this restore worked around (a damaged manifest of another backup, a damaged index
    // object whose packs were read directly): for the operator, not a failure of this restore.
    std::vector<std::string> warnings;
};

// Restores from `repository` (opened by the caller); progress, clock and cancellation come from
// `ctx`; stage "restore:settings" (files written, recovery not configured yet) reaches
// ctx.stage. Cancelled before the server starts, it removes what it wrote and returns
// ErrorCode::interrupted.
Result<RestoreOutcome> run_restore(repo::Repository& repository, const RestoreOptions& options,
                                   const OperationContext& ctx);

}  // namespace lifeboat::engine
