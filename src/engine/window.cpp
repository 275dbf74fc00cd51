#include "engine/window.hpp"

#include <map>
#include <set>

#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::engine {

const BackupReach* RestorableWindow::best_for(std::optional<Timestamp> target) const {
    const BackupReach* best = nullptr;
    for (const auto& b : backups) {
        if (!b.consistent) continue;
        if (target && !(b.from <= *target && b.to && *target < *b.to)) continue;
        if (!best || best->from < b.from) best = &b;
    }
    return best;
}

std::string RestorableWindow::describe() const {
    if (!earliest || !latest) return "empty";
    return format_iso8601(*earliest) + " .. " + format_iso8601(*latest);
}

Result<RestorableWindow> compute_window(const Storage& storage,
                                        const std::vector<repo::Manifest>& manifests) {
    RestorableWindow window;
    const auto names = LB_TRY(repo::list_wal_names(storage));
    const std::set<std::string> archived(names.begin(), names.end());
    window.wal_files = names.size();
    std::map<std::string, std::optional<Timestamp>> last_commit_cache;
    auto last_commit_of = [&](const std::string& name) -> Result<std::optional<Timestamp>> {
        auto it = last_commit_cache.find(name);
        if (it != last_commit_cache.end()) return it->second;
        const repo::WalMeta meta = LB_TRY(repo::read_wal_meta(storage, name));
        last_commit_cache[name] = meta.last_commit;
        return meta.last_commit;
    };

    for (const auto& m : manifests) {
        BackupReach reach;
        reach.backup_id = m.id;
        reach.from = m.stop_time;
        const std::uint64_t seg_size = m.source.wal_segment_size;
        const auto start = postgres::parse_wal_file_name(m.start_wal, seg_size);
        const auto stop = postgres::parse_wal_file_name(m.stop_wal, seg_size);
        if (!start || !stop) {
            return fail(ErrorCode::corrupt, "backup {}: malformed WAL names {} / {}", m.id,
                        m.start_wal, m.stop_wal);
        }
        std::uint64_t segno = start->segno;
        for (;; ++segno) {
            const std::string name = postgres::wal_file_name({m.timeline, segno}, seg_size);
            if (!archived.count(name)) {
                reach.first_missing_segment = name;
                // Same timeline (first 8 hex digits), later name: WAL exists beyond the hole.
                auto later = archived.upper_bound(name);
                reach.gap = later != archived.end() && later->compare(0, 8, name, 0, 8) == 0;
                break;
            }
            reach.last_segment = name;
            auto commit = LB_TRY(last_commit_of(name));
            if (commit && (!reach.to || *reach.to < *commit)) reach.to = commit;
        }
        reach.consistent = segno > stop->segno;
        if (!reach.consistent || (reach.to && *reach.to <= reach.from)) reach.to.reset();
        if (reach.consistent) {
            if (!window.earliest || reach.from < *window.earliest) window.earliest = reach.from;
            if (reach.to && (!window.latest || *window.latest < *reach.to))
                window.latest = reach.to;
        }
        window.backups.push_back(std::move(reach));
    }
    if (!window.latest) window.earliest.reset();
    // The window is the continuous span ending at `latest`: walk back while reaches touch it.
    // Backups whose reach lies wholly before it (kept by retention without the WAL after them)
    // are restorable on their own, not part of the window.
    if (window.latest) {
        Timestamp start = *window.latest;
        for (bool grew = true; grew;) {
            grew = false;
            for (const auto& r : window.backups) {
                if (r.to && *r.to >= start && r.from < start) {
                    start = r.from;
                    grew = true;
                }
            }
        }
        window.earliest = start;
        for (const auto& r : window.backups)
            if (r.consistent && r.from < start) window.isolated.push_back(r.backup_id);
    }
    if (!window.backups.empty()) {
        const BackupReach& newest = window.backups.back();
        window.first_missing_segment = newest.first_missing_segment;
        window.last_segment = newest.last_segment;
        window.gap = newest.gap;
    }
    return window;
}

}  // namespace lifeboat::engine
