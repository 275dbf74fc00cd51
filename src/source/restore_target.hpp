// RestoreTarget: a driver's half of a restore (docs/architecture.md, "Source drivers"). The
// engine chooses the backup and the branch through the window, refuses unsafe manifests, writes
// the entries' files in parallel (engine/restore_files.hpp) and undoes everything on failure;
// the target turns those files into a new instance of its kind: it checks the target before
// anything is written and says where entries outside the directory go, configures recovery
// (PostgreSQL: restore_command, the target, the timeline), and starts the instance and waits
// until it accepts read-write work, timing each phase (the measured RTO).
//
// A logical PostgreSQL target would create a new server and replay decoded changes into it; a
// MongoDB target would mongorestore the dumped collections and apply change events up to the
// target: both fit the same four calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "repository/manifest.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::source {

enum class NewInstanceArchiving { off, keep_source_settings };

// Where and how the new instance is made (what applies to the kind).
// The shared memory a started instance replays its log with (PostgreSQL: shared_buffers), for
// that run only: the configuration files keep their own value, which the instance takes at its
// next restart.
struct ReplayMemory {
    enum class Mode {
        automatic,   // the data's size, at most 512 MiB and a quarter of the memory
                     // available, never below the configured value (unchanged when that value
                     // cannot be read)
        configured,  // what the configuration files say
        fixed,       // `bytes`
    };
    Mode mode = Mode::automatic;
    std::uint64_t bytes = 0;
};

struct RestoreRequest {
    fs::path target_dir;  // empty or missing
    // Refused as a target besides the directory the manifest names (the source's own).
    std::optional<fs::path> source_pgdata;
    // Locations of what lives outside the directory, by id (PostgreSQL: tablespace oid -> new
    // directory); ids not given get "<target_dir>-tablespace-<id>".
    std::map<std::uint32_t, fs::path> tablespace_dirs;
    fs::path lifeboat_binary;              // the instance fetches the log through it
    std::optional<fs::path> pg_bin;        // the server programs (default: found on the host)
    std::string run_as_user = "postgres";  // runs the instance when lifeboat runs as root
    std::chrono::seconds start_timeout{3600};
    NewInstanceArchiving archiving = NewInstanceArchiving::off;
    // Kinds that load data into a server (postgres-logical): an existing, empty database to load
    // into instead of a new local instance (target_dir then only stages the backup's files),
    // and one table ("schema.table" or "table" for public) to restore alone. Kinds that cannot
    // refuse them in check_and_place (ErrorCode::usage).
    std::optional<std::string> target_conninfo;
    std::optional<std::string> only_table;
    unsigned jobs = 0;  // parallel work a target may do (0: as many as cores)
    ReplayMemory replay_memory;
};

// What the engine decided: the backup, the branch, the target, and where the log is.
struct RecoveryPlan {
    const repo::Manifest* manifest = nullptr;
    std::uint32_t timeline = 1;
    std::optional<Timestamp> target;  // nullopt: latest, or consistent
    bool consistent = false;
    // Stop right after this position (LogArchive::stop_position_at_end) instead of at `target`.
    std::optional<std::string> stop_position;
    // The repository as the instance's log fetching must name it, and its key file if any.
    std::string repository_location;
    std::optional<fs::path> key_file;
    int port = 0;  // 0: not started here
    // The repository's storage, for targets that read log objects themselves (a logical
    // target applies decoded changes instead of letting a server fetch WAL). Outlives the call
    // to start_and_await.
    const Storage* log_storage = nullptr;
};

// Where the recovery of a started instance went, in seconds; 0 where the kind (or the server's
// log) does not tell.
struct RecoveryPhases {
    double startup_seconds = 0;  // start until the log began replaying (start-up sync included)
    double redo_seconds = 0;     // replaying the log (fetching included) to the target or its end
    // End of replay until the instance left recovery: a promotion at a target, or the server's
    // own end of recovery (PostgreSQL: an end-of-recovery checkpoint) at the end of the log.
    double end_of_recovery_seconds = 0;
    std::string end_of_recovery;  // how recovery ended ("promoted at the target", ...)
    // Log records a target applied itself (mongodb: change events), when it applies them.
    std::optional<std::uint64_t> events_applied;
};

struct StartedInstance {
    double replay_seconds = 0;  // start to end of recovery
    double ready_seconds = 0;   // end of recovery to a working read-write connection
    RecoveryPhases phases;      // replay_seconds broken down
    // The shared memory the instance replayed with when the restore set it for the run (see
    // ReplayMemory), 0 when it ran with its configured value.
    std::uint64_t replay_memory_bytes = 0;
    // The max_wal_size the instance replayed with when the restore raised it for the replay
    // alone (back to the configured value once read-write), 0 when it was not raised.
    std::uint64_t replay_max_wal_size_bytes = 0;
    std::string conninfo;  // to reach it
};

class RestoreTarget {
  public:
    virtual ~RestoreTarget() = default;

    // Before anything is written: refuses a target that is the source's own or not empty
    // (ErrorCode::conflict), and returns where the manifest's out-of-directory parts go.
    virtual Result<std::map<std::uint32_t, fs::path>> check_and_place(
        const repo::Manifest& manifest) = 0;

    // What starting needs that does not depend on the files (finding programs, the account
    // that runs the instance and whether it can reach the repository): run on a second thread
    // while the files are written. Returns the seconds it took.
    virtual Result<double> prepare_start(const std::string& repository_location) = 0;

    // For a restore that starts the instance: work on the log that can overlap the writing of
    // the files, on CPU the file writers leave idle (PostgreSQL: the first WAL segments recovery
    // will ask for, fetched into the data directory's prefetch spool). Called once, on a thread
    // of its own, after check_and_place; `plan.port` is not chosen yet. It may go on while
    // start_and_await runs, and must return soon once `stop` is set (the engine sets it, and
    // waits, before the restore returns or undoes anything). Never fails the restore. Returns
    // how many log objects it fetched.
    virtual std::uint64_t prefetch_log(const RecoveryPlan& plan, const std::atomic<bool>& stop) {
        (void)plan;
        (void)stop;
        return 0;
    }

    // After the files: what makes them recover as `plan` says. Returns the names of settings
    // the backup carried that were replaced.
    virtual Result<std::vector<std::string>> configure(const RecoveryPlan& plan) = 0;

    // Starts the instance (prepare_start must have succeeded) on `port` and waits until
    // recovery ends and it accepts read-write work.
    // Progress and waits go through `ctx`: a cancellation ends the wait (ErrorCode::interrupted).
    virtual Result<StartedInstance> start_and_await(int port, const OperationContext& ctx) = 0;
    // Whether a process of the instance was started (after that, a failure keeps the directory
    // for diagnosis instead of removing it).
    virtual bool has_started() const = 0;
};

}  // namespace lifeboat::source
