#include "drivers/mongodb/log_archive.hpp"

namespace lifeboat::mongodb_driver {

Result<source::RestorableWindow> MongoLogArchive::follow(
    const Storage& storage, const std::vector<repo::Manifest>& manifests) const {
    (void)storage;  // no change events are archived yet
    source::RestorableWindow window;
    source::TimelineWindow branch;
    branch.timeline = 1;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        source::BackupReach reach;
        reach.backup_id = manifests[i].id;
        reach.backup_index = i;
        reach.timeline = 1;
        reach.consistent = true;  // a dump restores on its own
        reach.from = manifests[i].stop_time;
        // No log after it: it reaches no later time (restore --to consistent), as the
        // source-driver conformance suite requires of a kind without a log yet.
        window.backups.push_back(reach);
        branch.reaches.push_back(reach);
    }
    window.timelines.push_back(std::move(branch));
    return window;
}

Result<source::LogObjectFacts> MongoLogArchive::check_object(const Storage&,
                                                             const std::string& name,
                                                             std::string_view) const {
    return fail(ErrorCode::usage,
                "{} is no log object of a mongodb source (change capture is not built yet)", name);
}

}  // namespace lifeboat::mongodb_driver
