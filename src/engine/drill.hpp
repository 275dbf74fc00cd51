// drill: an automated restore test. Restores the repository's source to a point (default: one
// hour ago) into a scratch directory on a free port, waits until it accepts read-write queries,
// validates it (row counts, foreign keys, indexes, and the user's checks, in every database that
// accepts connections unless DrillOptions::databases narrows it), measures the RTO phase
// by phase, stops the instance and removes the scratch directory (unless asked to keep it), and
// records the outcome in the repository as evidence (`drills/<id>`, immutable). A drill never
// touches the source and never archives into its repository; drills on different ports can run
// at the same time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "engine/window.hpp"
#include "repository/drill_record.hpp"
#include "repository/repository.hpp"
#include "source/restore_target.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::engine {

struct DrillOptions {
    std::string repository_location;   // as RestoreOptions::repository_location
    std::optional<fs::path> key_file;  // as RestoreOptions::key_file
    // As restore --to (parse_target); `drill` without --to or --ago passes "--ago 1h".
    TargetRequest target;
    TimelineRequest timeline;  // as restore --timeline
    std::optional<fs::path> checks_file;
    std::vector<std::string> databases;  // validate only these (empty: every one, see validate.hpp)
    std::chrono::seconds pg_timeout{3600};  // per statement of the validation
    bool keep = false;
    // Where the scratch directory is created (`drill --scratch-dir`, else $TMPDIR, else /tmp).
    fs::path scratch_parent = "/tmp";
    fs::path lifeboat_binary;
    std::optional<fs::path> pg_bin;
    std::string run_as_user = "postgres";
    unsigned jobs = 0;
    unsigned io_depth = 0;  // restore's ranged reads in flight; 0: the storage's default
    source::ReplayMemory replay_memory;  // the scratch instance's, while it replays
    bool direct_writes = false;          // engine::RestoreOptions::direct_writes
    bool check_block_ids = false;        // engine::RestoreOptions::check_block_ids
    // For kinds that restore into a running server (SourceDriver::needs_target_server; mongodb:
    // `drill --target-mongo`): the empty server to restore into and validate. Required for
    // them, refused for the others (ErrorCode::usage, nothing recorded).
    std::optional<std::string> target_conninfo;
};

using repo::drill_json;
using repo::DrillCheck;
using repo::DrillDatabase;
using repo::DrillRecord;
using repo::parse_drill_record;

// Runs the drill and records it. Errors when the drill could not even be recorded (no
// repository), and when the restore is refused because the restorable window does not hold the
// target (ErrorCode::outside_window, as restore: nothing was tested, so nothing is recorded),
// when the restore refuses its target before writing anything (ErrorCode::conflict: a
// target_conninfo server that is not empty), and when target_conninfo is missing or not for
// this kind (ErrorCode::usage); any other failed restore, and a failed check, is a recorded,
// failed drill. The validation compares with what the restored backup recorded and, for kinds
// whose restore leaves a record of what it applied after the backup in the restore's directory
// (mongodb), with that (ValidateOptions::recorded, restore_dir).
Result<DrillRecord> run_drill(repo::Repository& repository, const DrillOptions& options,
                              const OperationContext& ctx);

// Every recorded drill, oldest first. A damaged record (or one with an unreadable time) comes back
// as a failed drill whose `error` names the object; it does not fail the whole read.
Result<std::vector<DrillRecord>> read_drills(const repo::Repository& repository);

}  // namespace lifeboat::engine
