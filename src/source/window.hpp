// The restorable window, kind-neutral: what each backup of a source reaches through the log
// archive after it, per branch of the log (docs/repository-format.md, "Restorable window").
//
// Words: a log is cut into objects (PostgreSQL: WAL segments; a logical source: batches of
// decoded changes; MongoDB: batches of change events), named so that names sort in log order
// within a branch. A branch is a line of history (PostgreSQL: a timeline; kinds without
// branches have exactly one, numbered 1). The field names below say "segment" and "timeline"
// because PostgreSQL was first; they mean log object and branch for every kind.
//
// A LogArchive (log_archive.hpp) computes the reaches; the engine assembles the window from them
// (engine/window.hpp: spans, isolated backups, the choice of backup and branch for a restore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/time.hpp"

namespace lifeboat::source {

// One backup followed along one timeline.
struct BackupReach {
    std::string backup_id;
    std::size_t backup_index = 0;       // into the manifests given to compute_window
    std::uint32_t timeline = 0;         // the timeline whose WAL is replayed
    bool consistent = false;            // WAL from start_wal to stop_wal is all archived
    Timestamp from;                     // the backup's stop time
    std::optional<Timestamp> to;        // newest archived commit after it (inclusive bound)
    std::string last_segment;           // last segment of the gap-free run
    std::string first_missing_segment;  // where the run ends ("" when unknown)
    bool gap = false;                   // later segments exist: the missing one is a hole
    bool wal_after_stop = false;        // a segment after the backup's stop segment is archived
    // The last segment of the run holding a transaction end: a restore to exactly `to` stops
    // after the last one in it (restore.cpp).
    std::string last_commit_segment;

    // Both ends included. PostgreSQL stops a time target before the first transaction end later
    // than it, and the archive holds none after `to`: a target equal to `to` is restored by
    // stopping after the run's last transaction end instead (recovery_target_lsn).
    bool covers(Timestamp target) const {
        return consistent && from <= target && to && target <= *to;
    }
};

// What one timeline can be restored to: every backup that can be followed along it.
struct TimelineWindow {
    std::uint32_t timeline = 1;
    std::optional<std::uint32_t> parent;    // from its history file
    std::optional<std::string> branch_lsn;  // where it branched off its parent
    // The newest commit it shares with its parent: times after it differ between the two.
    // Only set by add_branch_times; nullopt when the WAL around the switch is not archived.
    std::optional<Timestamp> branch_time;
    std::vector<std::uint32_t> ancestors;  // oldest first (parent last)
    std::vector<BackupReach> reaches;      // oldest backup first
    std::optional<Timestamp> earliest;     // the continuous span ending at `latest`
    std::optional<Timestamp> latest;
    // Set when the history file cannot be read: only backups taken on this timeline itself are
    // followed along it.
    std::string problem;

    bool descends_from(std::uint32_t other) const;
};

struct RestorableWindow {
    // Each backup along its own timeline, in the order of the manifests given. The window
    // fields below are computed from these.
    std::vector<BackupReach> backups;
    std::optional<Timestamp> earliest;  // the continuous span ending at `latest`
    std::optional<Timestamp> latest;
    // Consistent backups before `earliest` (kept by retention without the WAL after them):
    // restorable on their own (restore --backup ID --to consistent), and to any time their own
    // reach covers.
    std::vector<std::string> isolated;
    std::string first_missing_segment;  // ends the newest backup's run
    std::string last_segment;           // last segment of the newest backup's run
    bool gap = false;                   // first_missing_segment is a hole, not the archive's end
    std::size_t wal_files = 0;
    // Every timeline with a backup or a history file, ascending.
    std::vector<TimelineWindow> timelines;

    // The newest backup that can reach `target` along its own timeline (nullopt = latest: the
    // newest consistent one).
    const BackupReach* best_for(std::optional<Timestamp> target) const;
    const TimelineWindow* timeline(std::uint32_t id) const;
    std::string describe() const;  // "2026-…Z .. 2026-…Z" (both included) or "empty"
};

// The continuous span ending at the newest consistent reach of `reaches`, walking back while
// reaches touch it; both unset when no reach reaches a time.
void compute_span(const std::vector<BackupReach>& reaches, std::optional<Timestamp>& earliest,
                  std::optional<Timestamp>& latest);

}  // namespace lifeboat::source
