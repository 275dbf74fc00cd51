#include "engine/window.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "repository/wal_archive.hpp"
#include "source/registry.hpp"

namespace lifeboat::engine {

WindowState window_state(const RestorableWindow& window) {
    if (window.earliest && window.latest) return {"open", ""};
    if (window.backups.empty()) return {"no_backup", "no backup yet: run `lifeboat backup`"};
    const BackupReach& newest = window.backups.back();
    if (!newest.consistent) {
        if (newest.gap) {
            return {"broken",
                    fmt::format("backup {} needs WAL segment {}, which is missing from the archive "
                                "although later segments are there: take a new backup",
                                newest.backup_id, newest.first_missing_segment)};
        }
        return {"waiting_for_backup_wal",
                fmt::format("backup {} needs WAL segment {}, not archived yet: check "
                            "pg_stat_archiver on the source (`lifeboat check`)",
                            newest.backup_id, newest.first_missing_segment)};
    }
    if (!newest.wal_after_stop) {
        return {"waiting_for_wal",
                fmt::format("waiting for the first WAL segment after backup {}: run `lifeboat "
                            "check` to force one, or set archive_timeout on the source; until "
                            "then restore it with --to latest or --to consistent",
                            newest.backup_id)};
    }
    return {"no_commit_yet",
            fmt::format("no transaction committed after backup {} has been archived yet (the "
                        "window opens at the first one); restore it with --to latest or --to "
                        "consistent",
                        newest.backup_id)};
}

Result<TargetRequest> parse_target(std::string_view to, std::string_view ago, Timestamp now) {
    if (!to.empty() && !ago.empty()) return fail(ErrorCode::usage, "give --to or --ago, not both");
    if (!ago.empty()) {
        const auto duration = LB_TRY(parse_duration(ago));
        return TargetRequest{TargetRequest::Kind::time,
                             LB_TRY(time_before(now, duration, fmt::format("--ago {}", ago)))};
    }
    if (to.empty()) return fail(ErrorCode::usage, "--to TIME|latest|consistent is required");
    if (to == "latest") return TargetRequest{TargetRequest::Kind::latest, {}};
    if (to == "consistent") return TargetRequest{TargetRequest::Kind::consistent, {}};
    return TargetRequest{TargetRequest::Kind::time, LB_TRY(parse_iso8601(to))};
}

std::string describe_target(const TargetRequest& target) {
    switch (target.kind) {
        case TargetRequest::Kind::time:
            return format_iso8601(target.time);
        case TargetRequest::Kind::latest:
            return "latest";
        case TargetRequest::Kind::consistent:
            return "consistent";
    }
    return "latest";
}

namespace {
std::string timeline_list(const std::vector<const BackupReach*>& reaches) {
    std::string out;
    for (const auto* r : reaches)
        out += (out.empty() ? "" : ", ") + std::to_string(r->timeline);
    return out;
}

}  // namespace

Result<RestorableWindow> compute_window(const source::LogArchive& archive, const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests) {
    RestorableWindow window = LB_TRY(archive.follow(storage, manifests));
    for (auto& t : window.timelines)
        source::compute_span(t.reaches, t.earliest, t.latest);
    // The top-level window is that of the newest backup's timeline: every backup that can be
    // followed along it counts (after a failover, the old timeline's backups too), while a
    // sibling history is shown only in its own timeline's window.
    const TimelineWindow* current =
        window.backups.empty() ? nullptr : window.timeline(window.backups.back().timeline);
    source::compute_span(current ? current->reaches : window.backups, window.earliest,
                         window.latest);
    // Backups whose reach lies wholly before the window (kept by retention without the WAL
    // after them) are restorable on their own, not part of the window.
    // With an empty window (the newest backup waits for WAL), every older consistent backup
    // that reaches no time is one of them.
    for (std::size_t i = 0; i < window.backups.size(); ++i) {
        const BackupReach& r = window.backups[i];
        if (!r.consistent) continue;
        if (window.earliest ? r.from < *window.earliest
                            : (!r.to && i + 1 < window.backups.size())) {
            window.isolated.push_back(r.backup_id);
        }
    }
    if (!window.backups.empty()) {
        const BackupReach& newest = window.backups.back();
        window.first_missing_segment = newest.first_missing_segment;
        window.last_segment = newest.last_segment;
        window.gap = newest.gap;
        // WAL that wal-stream recorded as lost after the newest backup began is a hole even
        // when nothing was stored after it.
        const auto manifest = std::find_if(manifests.begin(), manifests.end(),
                                           [&](const auto& m) { return m.id == newest.backup_id; });
        if (manifest != manifests.end()) {
            const auto missing = LB_TRY(repo::first_stream_gap_segment(
                storage, manifest->start_lsn, manifest->postgres.wal_segment_size));
            if (missing) {
                if (!window.gap || window.first_missing_segment.empty())
                    window.first_missing_segment = *missing;
                window.gap = true;
            }
        }
    }
    return window;
}

Result<const source::LogArchive*> log_archive_of(const std::vector<repo::Manifest>& manifests) {
    const source::SourceDriver* driver = LB_TRY(source::driver_for(manifests));
    return &driver->log_archive();
}

Result<RestorableWindow> compute_window(const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests) {
    const source::LogArchive* archive = LB_TRY(log_archive_of(manifests));
    return compute_window(*archive, storage, manifests);
}

void add_branch_times(const Storage& storage, RestorableWindow& window,
                      const std::vector<repo::Manifest>& manifests) {
    auto archive = log_archive_of(manifests);
    if (archive) (*archive)->add_branch_times(storage, window, manifests);
}

Result<TimelineRequest> parse_timeline_request(std::string_view text) {
    if (text == "current") return TimelineRequest{TimelineRequest::Kind::current, 0};
    if (text == "latest") return TimelineRequest{TimelineRequest::Kind::latest, 0};
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id == 0) {
        return fail(ErrorCode::usage,
                    "--timeline '{}' must be a timeline id (1, 2, …), 'current' or 'latest'", text);
    }
    return TimelineRequest{TimelineRequest::Kind::id, id};
}

namespace {

// The timeline windows each backup can be followed along, by backup index.
std::vector<std::vector<const BackupReach*>> reaches_by_backup(const RestorableWindow& window) {
    std::vector<std::vector<const BackupReach*>> out(window.backups.size());
    for (const auto& t : window.timelines)
        for (const auto& r : t.reaches)
            out[r.backup_index].push_back(&r);
    return out;
}

class Chooser {
  public:
    Chooser(const RestorableWindow& window, const RestoreSelection& selection)
        : m_window(window), m_selection(selection), m_by_backup(reaches_by_backup(window)) {}

    // The reach of backup `index` the request selects for the target, nullopt when it cannot
    // reach it; an error when several timelines with different histories can.
    Result<const BackupReach*> resolve(std::size_t index) const {
        const auto& candidates = m_by_backup[index];
        const std::uint32_t own = m_window.backups[index].timeline;
        const BackupReach* own_reach = nullptr;
        for (const auto* r : candidates)
            if (r->timeline == own) own_reach = r;
        const auto& target = m_selection.target;
        auto usable = [&](const BackupReach* r) {
            return r && r->consistent && (!target || r->covers(*target));
        };
        switch (m_selection.timeline.kind) {
            case TimelineRequest::Kind::id:
                for (const auto* r : candidates)
                    if (r->timeline == m_selection.timeline.id) return usable(r) ? r : nullptr;
                return nullptr;
            case TimelineRequest::Kind::current:
                return usable(own_reach) ? own_reach : nullptr;
            case TimelineRequest::Kind::latest: {
                const BackupReach* newest = nullptr;
                for (const auto* r : candidates)
                    if (!newest || newest->timeline < r->timeline) newest = r;
                return usable(newest) ? newest : nullptr;
            }
            case TimelineRequest::Kind::automatic:
                break;
        }
        std::vector<const BackupReach*> later;
        for (const auto* r : candidates)
            if (r->timeline != own) later.push_back(r);
        if (m_selection.consistent) return usable(own_reach) ? own_reach : nullptr;
        if (!target) {
            // 'latest' is the end of which history? With timelines branching off after the
            // backup, the answer changes the data: the operator says which.
            if (!later.empty() && usable(own_reach)) {
                return fail(ErrorCode::outside_window,
                            "cannot choose the end of the archive for backup {}: timeline(s) {} "
                            "branch off its timeline {} after it; choose the history to restore "
                            "with --timeline ({} for the backup's own, or one of {}, or latest)",
                            own_reach->backup_id, timeline_list(later), own, own,
                            timeline_list(later));
            }
            // A later timeline whose history is damaged may branch off this one too.
            for (const auto& t : m_window.timelines) {
                if (t.timeline > own && !t.problem.empty() && usable(own_reach)) {
                    return fail(ErrorCode::outside_window,
                                "cannot tell where the archive ends for backup {}: timeline {} "
                                "may branch off its timeline {}, but its history is damaged "
                                "({}); choose with --timeline ({} for the backup's own)",
                                own_reach->backup_id, t.timeline, own, t.problem, own);
                }
            }
            return usable(own_reach) ? own_reach : nullptr;
        }
        if (usable(own_reach)) return own_reach;
        std::vector<const BackupReach*> reaching;
        for (const auto* r : later)
            if (usable(r)) reaching.push_back(r);
        if (reaching.empty()) return nullptr;
        // Several later timelines reach the target: fine if one is an ancestor of all the
        // others (the target precedes their branching, so all hold the same data); otherwise
        // their histories differ.
        for (const auto* r : reaching) {
            bool ancestor_of_all = true;
            for (const auto* other : reaching) {
                const auto* t = m_window.timeline(other->timeline);
                if (other != r && !(t && t->descends_from(r->timeline))) ancestor_of_all = false;
            }
            if (ancestor_of_all) return r;
        }
        return fail(ErrorCode::outside_window,
                    "{} is reachable from backup {} on timelines {}, whose histories differ; "
                    "choose one with --timeline",
                    format_iso8601(*target), reaching.front()->backup_id, timeline_list(reaching));
    }

    const std::vector<const BackupReach*>& candidates(std::size_t index) const {
        return m_by_backup[index];
    }

  private:
    const RestorableWindow& m_window;
    const RestoreSelection& m_selection;
    std::vector<std::vector<const BackupReach*>> m_by_backup;
};

std::string describe_timeline(const RestorableWindow& window, std::uint32_t id) {
    const TimelineWindow* t = window.timeline(id);
    if (!t) return fmt::format("the archive holds no timeline {}", id);
    if (!t->problem.empty()) return t->problem;
    if (!t->earliest || !t->latest) return fmt::format("timeline {} has an empty window", id);
    return fmt::format("timeline {} covers {} .. {}", id, format_iso8601(*t->earliest),
                       format_iso8601(*t->latest));
}

}  // namespace

Result<const BackupReach*> choose_restore(const RestorableWindow& window,
                                          const RestoreSelection& selection) {
    const Chooser chooser(window, selection);
    const auto& request = selection.timeline;
    const bool explicit_id = request.kind == TimelineRequest::Kind::id;
    if (explicit_id && !window.timeline(request.id)) {
        return fail(ErrorCode::outside_window,
                    "--timeline {}: the archive holds no such timeline (no backup on it and no "
                    "history file for it)",
                    request.id);
    }
    if (selection.backup_id) {
        std::optional<std::size_t> index;
        for (std::size_t i = 0; i < window.backups.size(); ++i)
            if (window.backups[i].backup_id == *selection.backup_id) index = i;
        if (!index)
            return fail(ErrorCode::not_found, "no backup '{}' in the repository",
                        *selection.backup_id);
        const BackupReach& own = window.backups[*index];
        if (!own.consistent) {
            return fail(ErrorCode::outside_window,
                        "backup {} cannot be restored: WAL segment {} it needs is missing",
                        own.backup_id, own.first_missing_segment);
        }
        if (explicit_id) {
            bool followable = false;
            for (const auto* r : chooser.candidates(*index))
                if (r->timeline == request.id) followable = true;
            if (!followable) {
                return fail(ErrorCode::outside_window,
                            "backup {} (timeline {}) cannot be followed along timeline {}: that "
                            "timeline does not branch off the backup's after the backup ended",
                            own.backup_id, own.timeline, request.id);
            }
        }
        const BackupReach* reach = LB_TRY(chooser.resolve(*index));
        if (!reach) {
            // Explain with the reach the request names (the backup's own by default).
            const BackupReach* shown = &own;
            for (const auto* r : chooser.candidates(*index))
                if (explicit_id && r->timeline == request.id) shown = r;
            if (!selection.target) {
                return fail(ErrorCode::outside_window,
                            "backup {} cannot be restored on timeline {}", own.backup_id,
                            shown->timeline);
            }
            return fail(
                ErrorCode::outside_window, "backup {} cannot reach {}: it covers {} .. {}{}",
                own.backup_id, format_iso8601(*selection.target), format_iso8601(shown->from),
                shown->to ? format_iso8601(*shown->to) : std::string("(no archived commit yet)"),
                shown->timeline == own.timeline ? std::string()
                                                : fmt::format(" on timeline {}", shown->timeline));
        }
        return reach;
    }

    const BackupReach* best = nullptr;
    if (!selection.target) {
        // 'latest' and 'consistent' start from the newest backup the request can use.
        const BackupReach* newest = nullptr;
        for (std::size_t i = 0; i < window.backups.size(); ++i) {
            const BackupReach* usable = nullptr;
            for (const auto* r : chooser.candidates(i)) {
                const bool wanted = explicit_id ? r->timeline == request.id
                                                : r->timeline == window.backups[i].timeline;
                if (wanted && r->consistent) usable = r;
            }
            if (usable && (!newest || newest->from < usable->from)) newest = usable;
        }
        if (newest) best = LB_TRY(chooser.resolve(newest->backup_index));
    } else {
        // The newest backup that reaches the target, unless different backups reach it along
        // different histories: then the operator says which.
        std::vector<const BackupReach*> found;
        for (std::size_t i = 0; i < window.backups.size(); ++i) {
            const BackupReach* reach = LB_TRY(chooser.resolve(i));
            if (reach) found.push_back(reach);
        }
        std::set<std::uint32_t> timelines;
        for (const auto* r : found)
            timelines.insert(r->timeline);
        if (timelines.size() > 1) {
            std::string list;
            for (const auto* r : found)
                list += fmt::format("{}{} on timeline {}", list.empty() ? "" : ", ", r->backup_id,
                                    r->timeline);
            return fail(ErrorCode::outside_window,
                        "{} is reachable along different histories ({}); choose one with "
                        "--timeline or --backup",
                        format_iso8601(*selection.target), list);
        }
        for (const auto* r : found)
            if (!best || best->from < r->from) best = r;
    }
    if (best) return best;

    if (selection.consistent) return fail(ErrorCode::outside_window, "no backup is consistent yet");
    if (explicit_id) {
        return fail(ErrorCode::outside_window, "{} cannot be reached on timeline {} ({})",
                    selection.target ? format_iso8601(*selection.target) : std::string("latest"),
                    request.id, describe_timeline(window, request.id));
    }
    if (!window.earliest) {
        const BackupReach& newest = window.backups.back();
        return fail(ErrorCode::outside_window,
                    "no backup can be restored yet: the restorable window is empty ({})",
                    !newest.consistent
                        ? "backup " + newest.backup_id + " needs WAL segment " +
                              newest.first_missing_segment + ", which is not archived"
                        : std::string("no commit has been archived after the newest backup; "
                                      "restore it with --to latest once WAL is archived"));
    }
    return fail(ErrorCode::outside_window, "{} is outside the restorable window ({}){}",
                selection.target ? format_iso8601(*selection.target) : std::string("latest"),
                window.describe(),
                window.gap ? "; WAL segment " + window.first_missing_segment +
                                 " is missing from the archive, so later times cannot be reached"
                           : std::string());
}

}  // namespace lifeboat::engine
