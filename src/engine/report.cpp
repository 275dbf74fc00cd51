#include "engine/report.hpp"

#include <algorithm>

#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::engine {

namespace {

// The schedule as observed: the median gap between the starts of the last (up to 8) backups.
std::optional<double> observed_interval(const std::vector<repo::Manifest>& backups) {
    if (backups.size() < 2) return std::nullopt;
    std::vector<double> gaps;
    for (std::size_t i = backups.size() > 8 ? backups.size() - 8 : 1; i < backups.size(); ++i) {
        gaps.push_back(
            static_cast<double>(backups[i].start_time.micros - backups[i - 1].start_time.micros) /
            1e6);
    }
    std::sort(gaps.begin(), gaps.end());
    return gaps[gaps.size() / 2];
}

}  // namespace

Result<RepositoryReport> gather_repository_report(const repo::Repository& repository,
                                                  const std::string& name,
                                                  const std::string& location,
                                                  const RetentionPolicy& policy, Timestamp now) {
    RepositoryReport r{name, location, LB_TRY(load_catalog(repository)),
                       LB_TRY(read_drills(repository)), std::nullopt};
    r.retention = policy.describe();
    std::vector<RetentionCandidate> candidates;
    for (const auto& m : r.catalog.backups) {
        auto pin = r.catalog.pins.find(m.id);
        candidates.push_back({m.id, m.source.system_identifier, m.stop_time,
                              pin != r.catalog.pins.end() && pin->second.holds_at(now)});
    }
    for (const auto& d : apply_retention(candidates, now, policy))
        r.outside_retention += !d.keep;
    r.backup_interval = observed_interval(r.catalog.backups);
    const auto names = LB_TRY(repo::list_wal_names(repository.storage()));
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
        if (it->find('.') != std::string::npos) continue;  // segments only
        auto meta = repo::read_wal_meta(repository.storage(), *it);
        if (!meta && meta.error().code == ErrorCode::corrupt) {
            r.catalog.damaged.push_back(repo::damaged_object(repo::wal_key(*it), meta.error()));
            continue;  // the RPO comes from the newest readable segment
        }
        r.newest_wal_pushed = LB_TRY(std::move(meta)).pushed;
        break;
    }
    return r;
}

}  // namespace lifeboat::engine
