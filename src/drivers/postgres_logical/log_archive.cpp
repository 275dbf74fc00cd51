#include "drivers/postgres_logical/log_archive.hpp"

#include "drivers/postgres_logical/change_chain.hpp"
#include "drivers/postgres_logical/change_log.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_logical {

Result<source::RestorableWindow> LogicalLogArchive::follow(
    const Storage& storage, const std::vector<repo::Manifest>& manifests) const {
    source::RestorableWindow window;
    const auto names = LB_TRY(repo::list_wal_names(storage));
    for (const auto& name : names)
        if (name.starts_with(k_log_prefix)) ++window.wal_files;
    source::TimelineWindow branch;
    branch.timeline = 1;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        // A backup is consistent on its own (its snapshot), and reaches the newest commit of
        // the gap-free run of change log objects continuing it (a minimal reach: the commit
        // span of each object's metadata).
        source::BackupReach reach;
        reach.backup_id = manifests[i].id;
        reach.backup_index = i;
        reach.timeline = 1;
        reach.consistent = true;
        reach.from = manifests[i].stop_time;
        if (const auto start = postgres::parse_lsn(manifests[i].start_lsn)) {
            const ChangeChain chain = change_chain(names, start->value);
            for (const auto& object : chain.objects) {
                const repo::WalMeta meta = LB_TRY(repo::read_wal_meta(storage, object));
                if (meta.last_commit && (!reach.to || *meta.last_commit > *reach.to))
                    reach.to = meta.last_commit;
            }
            if (reach.to && *reach.to < reach.from) reach.to.reset();
            if (!chain.objects.empty()) {
                reach.last_segment = chain.objects.back();
                reach.last_commit_segment = chain.objects.back();
            }
            reach.gap = chain.gap;
        }
        window.backups.push_back(reach);
        branch.reaches.push_back(reach);
    }
    window.timelines.push_back(std::move(branch));
    return window;
}

void LogicalLogArchive::add_branch_times(const Storage&, source::RestorableWindow&,
                                         const std::vector<repo::Manifest>&) const {
    // One branch: nothing branches off.
}

std::vector<std::string> LogicalLogArchive::objects_for(
    const repo::Manifest& backup, const source::BackupReach&,
    const std::vector<std::string>& archived) const {
    const auto start = postgres::parse_lsn(backup.start_lsn);
    if (!start) return {};
    return change_chain(archived, start->value).objects;
}

bool LogicalLogArchive::is_shared(std::string_view) const {
    return false;
}

Result<std::vector<std::string>> LogicalLogArchive::removable(
    const std::vector<std::string>&, const std::vector<const repo::Manifest*>&,
    const repo::Manifest&) const {
    // No object of this kind exists yet; whatever else lies in the log area is not ours to
    // remove (never physical WAL, which another kind's archive interprets).
    return std::vector<std::string>{};
}

Result<source::LogObjectFacts> LogicalLogArchive::check_object(const Storage&,
                                                               const std::string& name,
                                                               std::string_view content) const {
    if (!name.starts_with(k_log_prefix)) {
        return fail(ErrorCode::usage, "{} is not a log object of a postgres-logical source", name);
    }
    if (!parse_change_log_object_name(name)) {
        return fail(ErrorCode::usage, "{} is not a change log object name", name);
    }
    LB_CHECK(read_change_log(content, name));
    return source::LogObjectFacts{};
}

bool LogicalLogArchive::is_descriptive(std::string_view) const {
    return false;
}

Result<std::optional<std::string>> LogicalLogArchive::stop_position_at_end(
    const Storage&, const source::BackupReach&) const {
    return std::optional<std::string>();
}

std::string LogicalLogArchive::describe_branch(std::uint32_t id) const {
    return fmt::format("branch {} (the logical slot's history)", id);
}

}  // namespace lifeboat::postgres_logical
