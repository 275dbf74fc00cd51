// The restorable window: from the backups and the gap-free WAL archive after each of them,
// the span of times a point-in-time restore can reach (docs/repository-format.md,
// "Restorable window"), per timeline, and the choice of backup and timeline for a restore.
//
// An archive can hold several timelines: each promotion (a failover, or a restored instance
// that archives into the same repository) starts a new one, whose `.history` file names the
// timeline it branched off and where. A backup can be followed along its own timeline and along
// every later timeline that branched off it after the backup ended; the same time can then mean
// different data on different timelines, so a restore names the one it follows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repository/manifest.hpp"

namespace lifeboat::engine {

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

// Why the window is what it is, for `list`: "open" (it has a span), or why it is empty and
// what to do about it.
struct WindowState {
    std::string status;  // open | no_backup | waiting_for_backup_wal | waiting_for_wal |
                         // no_commit_yet | broken
    std::string reason;  // one sentence, "" when open
};
WindowState window_state(const RestorableWindow& window);

Result<RestorableWindow> compute_window(const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests);

// Sets each branched timeline's branch_time from the archived WAL around its switch position
// (reads the segment holding it: costly, so only for what `list` shows). Best effort: what
// cannot be read or scanned leaves branch_time unset.
void add_branch_times(const Storage& storage, RestorableWindow& window,
                      const std::vector<repo::Manifest>& manifests);

// The timeline a restore follows (restore --timeline).
struct TimelineRequest {
    enum class Kind {
        automatic,  // the backup's own, unless only a later timeline reaches the target
        current,    // the backup's own timeline
        latest,     // the newest timeline the backup can be followed along
        id,         // exactly `id`
    };
    Kind kind = Kind::automatic;
    std::uint32_t id = 0;
};

// "current", "latest" or a decimal timeline id (1 .. 2^32-1); ErrorCode::usage otherwise.
Result<TimelineRequest> parse_timeline_request(std::string_view text);

// A restore target, as restore, drill and validate take it.
struct TargetRequest {
    enum class Kind {
        time,        // recovery_target_time
        latest,      // the end of the archive
        consistent,  // the end of the backup itself (recovery_target = 'immediate')
    };
    Kind kind = Kind::latest;
    Timestamp time;  // Kind::time
};

// The one parser of targets: `to` is an ISO 8601 time with a zone, 'latest' or 'consistent';
// `ago` a duration (parse_duration) before `now`, giving a time. Exactly one of them must be
// non-empty. ErrorCode::usage otherwise (both, neither, malformed, or before 1970).
Result<TargetRequest> parse_target(std::string_view to, std::string_view ago, Timestamp now);

// "2026-…Z", "latest" or "consistent".
std::string describe_target(const TargetRequest& target);

struct RestoreSelection {
    std::optional<Timestamp> target;  // nullopt: latest, or consistent
    bool consistent = false;
    std::optional<std::string> backup_id;
    TimelineRequest timeline;
};

// The backup, and the timeline to follow from it, for a restore. Refuses (ErrorCode::
// outside_window, one line naming the way out) a target no backup reaches, a 'latest' with a
// hole in the archive, and a choice between timelines whose histories differ that the request
// does not settle: then --timeline or --backup must say which.
Result<const BackupReach*> choose_restore(const RestorableWindow& window,
                                          const RestoreSelection& selection);

}  // namespace lifeboat::engine
