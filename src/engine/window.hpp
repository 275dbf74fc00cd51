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
#include "source/log_archive.hpp"
#include "source/window.hpp"

namespace lifeboat::engine {

using source::BackupReach;
using source::RestorableWindow;
using source::TimelineWindow;

// Why the window is what it is, for `list`: "open" (it has a span), or why it is empty and
// what to do about it.
struct WindowState {
    std::string status;  // open | no_backup | waiting_for_backup_wal | waiting_for_wal |
                         // no_commit_yet | broken
    std::string reason;  // one sentence, "" when open
};
WindowState window_state(const RestorableWindow& window);

// The window of `manifests` over the log in `storage`: the reaches `archive` finds
// (LogArchive::follow), with each timeline's span, the window's span (that of the newest
// backup's timeline), the isolated backups and the newest backup's run.
Result<RestorableWindow> compute_window(const source::LogArchive& archive, const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests);

// The log archive of the source kind `manifests` name (source/registry.hpp; postgres-physical
// for a repository without backups).
Result<const source::LogArchive*> log_archive_of(const std::vector<repo::Manifest>& manifests);

// compute_window with log_archive_of(manifests).
Result<RestorableWindow> compute_window(const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests);

// Sets each branched timeline's branch_time (LogArchive::add_branch_times: reads log objects,
// so only for what `list` shows). Best effort: leaves branch_time unset where it cannot tell.
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
