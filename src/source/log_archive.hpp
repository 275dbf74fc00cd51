// LogArchive: what the engine needs to know about a source kind's log (archive) to compute
// windows, copy, verify, expire and restore, without knowing the kind. The physical PostgreSQL
// driver implements it over WAL segments and timeline histories; a logical PostgreSQL source
// would over batches of decoded changes (position: LSN), a MongoDB source over batches of change
// events (position: cluster time) — see docs/architecture.md, "Source drivers".
//
// Log objects live in the repository's log area (repository/wal_archive.hpp: each object with a
// commit-time span in its metadata); the archive interprets their names. Every method is const
// and thread safe; none writes to the repository.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repository/manifest.hpp"
#include "source/window.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"

namespace lifeboat::source {

// What checking a log object found out about it.
struct LogObjectFacts {
    // The identity of the source that wrote it, when the object carries one (PostgreSQL: the
    // system identifier in a segment's long page header); compared with the repository's.
    std::optional<std::string> source_identity;
};

class LogArchive {
  public:
    virtual ~LogArchive() = default;

    // Follows every backup of `manifests` through the archived log: the reach of each backup
    // along its own branch (RestorableWindow::backups, in the order of `manifests`) and, per
    // branch, every backup that can be followed along it (timelines, ascending, with parent,
    // ancestors, branch position and problem), and wal_files. Spans (earliest/latest), isolated
    // backups and the newest backup's run are the engine's (engine/window.hpp,
    // compute_window). Reading failures other than damage fail the call; damage to one
    // branch's metadata stays local to it (TimelineWindow::problem).
    virtual Result<RestorableWindow> follow(const Storage& storage,
                                            const std::vector<repo::Manifest>& manifests) const = 0;

    // Sets each branch's branch_time (the newest commit it shares with its parent) when the
    // archive can tell; best effort, may read log objects (costly: only for what `list` shows).
    virtual void add_branch_times(const Storage& storage, RestorableWindow& window,
                                  const std::vector<repo::Manifest>& manifests) const = 0;

    // The log objects a restore of `backup` along `reach` reads: from its first object to the
    // end of the reach's gap-free run, and the objects that describe the backup itself (PostgreSQL:
    // its .backup history file), among `archived` (sorted names). For copy and verify.
    virtual std::vector<std::string> objects_for(
        const repo::Manifest& backup, const BackupReach& reach,
        const std::vector<std::string>& archived) const = 0;

    // Objects any restore may need whatever the backup (PostgreSQL: timeline histories): always
    // copied, never expired.
    virtual bool is_shared(std::string_view name) const = 0;

    // The objects among `archived` that no kept backup and no moment of continuous recovery
    // needs: continuous recovery is kept from `continuous_from`'s first object on; each of
    // `kept` keeps its own first..last objects. Names the archive cannot place are never
    // removable. ErrorCode::corrupt when a kept manifest's positions are malformed.
    virtual Result<std::vector<std::string>> removable(
        const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
        const repo::Manifest& continuous_from) const = 0;

    // Checks that `content` is what `name` says it is, before it enters the archive (wal-push)
    // and when verify reads it. ErrorCode::usage for a name that is no log object name;
    // ErrorCode::corrupt for content that does not match, naming what is wrong.
    virtual Result<LogObjectFacts> check_object(const Storage& storage, const std::string& name,
                                                std::string_view content) const = 0;

    // Small descriptive objects (PostgreSQL: timeline histories, backup history files) whose
    // failed check means damage for certain; a failed check of a data object may also mean a
    // source this Lifeboat does not understand.
    virtual bool is_descriptive(std::string_view name) const = 0;

    // The position a restore to exactly `reach.to` (the newest archived commit) stops after,
    // as the source's recovery understands it (PostgreSQL: the LSN of that transaction end), or
    // nullopt when a time target is enough.
    virtual Result<std::optional<std::string>> stop_position_at_end(
        const Storage& storage, const BackupReach& reach) const = 0;

    // How an operator names branch `id` in a message ("timeline 2 (00000002.history)").
    virtual std::string describe_branch(std::uint32_t id) const = 0;
};

}  // namespace lifeboat::source
