// Drill records (docs/repository-format.md, "DRIL"): the evidence a restore drill leaves in the
// repository, immutable once written (`drills/<id>`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct DrillCheck {
    std::string kind, name, detail;
    bool passed = false;
    bool skipped = false;
    std::string database;  // "" in records written before databases were recorded
};

// What was validated in one database of the restored instance.
struct DrillDatabase {
    std::string name;
    bool passed = false;
    std::string summary;  // engine::summary_line of it
};

struct DrillRecord {
    std::string id;
    Timestamp started;
    std::optional<Timestamp> target;  // nullopt: latest, or consistent
    bool consistent = false;          // restored to the end of the backup itself
    // The time [[point_in_time]] and "<= target" checks compared with: the target, or for
    // 'latest' the newest commit restored (the end of the window when the instance cannot tell).
    std::optional<Timestamp> checked_against;
    std::string backup_id;
    bool passed = false;
    std::string error;  // why it failed before checks could run
    double files_seconds = 0, replay_seconds = 0, ready_seconds = 0, total_seconds = 0;
    double prepare_seconds = 0;              // done in parallel with files: not part of the total
    std::optional<Timestamp> newest_commit;  // in the restored instance, when known
    std::vector<DrillCheck> checks;
    std::vector<DrillDatabase> databases;  // empty in records written before they were kept
    std::string kept_directory;
    // Set when the scratch server could not be stopped cleanly (pg_ctl stop failed): what was
    // done instead, or that it still runs and its directory was kept.
    std::string stop_error;
};

// The key of drill `id`: "drills/<id>".
std::string drill_key(const std::string& id);

// Parses a drill record (the payload of `drills/<id>`, envelope already checked): types and
// times checked; ErrorCode::corrupt naming `key` and the field otherwise. An entry point for
// fuzzing.
Result<DrillRecord> parse_drill_record(std::string_view text, std::string_view key);

// The record as one JSON object (what is stored, and what `drill --json` prints).
std::string drill_json(const DrillRecord& record);

}  // namespace lifeboat::repo
