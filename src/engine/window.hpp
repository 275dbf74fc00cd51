// The restorable window: from the backups and the gap-free WAL archive after each of them,
// the span of times a point-in-time restore can reach (docs/repository-format.md,
// "Restorable window").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "repository/manifest.hpp"

namespace lifeboat::engine {

struct BackupReach {
    std::string backup_id;
    bool consistent = false;            // WAL from start_wal to stop_wal is all archived
    Timestamp from;                     // the backup's stop time
    std::optional<Timestamp> to;        // newest archived commit after it (exclusive bound)
    std::string last_segment;           // last segment of the gap-free run
    std::string first_missing_segment;  // where the run ends ("" when unknown)
    bool gap = false;                   // later segments exist: the missing one is a hole
};

struct RestorableWindow {
    std::vector<BackupReach> backups;   // same order as the manifests given
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

    // The newest backup that can reach `target` (nullopt = latest: the newest consistent one).
    const BackupReach* best_for(std::optional<Timestamp> target) const;
    std::string describe() const;  // "2026-…Z .. 2026-…Z" or "empty (no backup)"
};

Result<RestorableWindow> compute_window(const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests);

}  // namespace lifeboat::engine
