#include "drivers/postgres_logical/log_archive.hpp"

#include <algorithm>
#include <map>

#include "drivers/postgres_logical/chain.hpp"
#include "drivers/postgres_logical/change_log.hpp"
#include "drivers/postgres_logical/pgoutput.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_logical {

namespace {

// The consistent point of a logical backup (its stop LSN).
Result<std::uint64_t> consistent_point(const repo::Manifest& m) {
    const auto lsn = parse_lsn_text(m.stop_lsn);
    if (!lsn) {
        return fail(ErrorCode::corrupt, "backup {}: stop LSN '{}' is not an LSN", m.id, m.stop_lsn);
    }
    return *lsn;
}

std::vector<std::string> own_names(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& name : names)
        if (parse_change_log_object_name(name)) out.push_back(name);
    return out;
}

}  // namespace

Result<source::RestorableWindow> LogicalLogArchive::follow(
    const Storage& storage, const std::vector<repo::Manifest>& manifests) const {
    source::RestorableWindow window;
    const auto names = own_names(LB_TRY(repo::list_wal_names(storage)));
    window.wal_files = names.size();
    // Metadata read once per object, however many backups share it.
    std::map<std::string, repo::WalMeta> metas;
    source::TimelineWindow branch;
    branch.timeline = 1;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        source::BackupReach reach;
        reach.backup_id = manifests[i].id;
        reach.backup_index = i;
        reach.timeline = 1;
        reach.consistent = true;  // a snapshot is consistent on its own
        reach.from = manifests[i].stop_time;
        const std::uint64_t from = LB_TRY(consistent_point(manifests[i]));
        const ChainRun run = follow_chain(names, from);
        if (!run.objects.empty()) {
            reach.wal_after_stop = true;
            reach.last_segment = run.objects.back();
        }
        reach.gap = run.gap;
        if (run.gap) reach.first_missing_segment = fmt::format("logical/{:016X}-", run.end);
        // The newest commit of the run: read back from its end to the first object holding one.
        for (auto it = run.objects.rbegin(); it != run.objects.rend(); ++it) {
            auto known = metas.find(*it);
            if (known == metas.end())
                known = metas.emplace(*it, LB_TRY(repo::read_wal_meta(storage, *it))).first;
            if (known->second.last_commit) {
                // Commits of an object covering the point may all precede the backup: then it
                // reaches no later time.
                if (*known->second.last_commit > reach.from) {
                    reach.to = *known->second.last_commit;
                    reach.last_commit_segment = *it;
                }
                break;
            }
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
    const repo::Manifest& backup, const source::BackupReach& reach,
    const std::vector<std::string>& archived) const {
    const auto from = consistent_point(backup);
    if (!from) return {};
    ChainRun run = follow_chain(own_names(archived), *from);
    // Only as far as the reach went: objects stored since are not yet part of it.
    if (auto last = std::find(run.objects.begin(), run.objects.end(), reach.last_segment);
        last != run.objects.end()) {
        run.objects.erase(last + 1, run.objects.end());
    } else {
        run.objects.clear();
    }
    return run.objects;
}

bool LogicalLogArchive::is_shared(std::string_view) const {
    return false;
}

Result<std::vector<std::string>> LogicalLogArchive::removable(
    const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
    const repo::Manifest& continuous_from) const {
    // Every kept backup, and continuous recovery, starts at a consistent point: objects ending
    // at or before the earliest of them are needed by none. Names of other kinds never match.
    std::uint64_t keep_from = LB_TRY(consistent_point(continuous_from));
    for (const auto* m : kept)
        keep_from = std::min(keep_from, LB_TRY(consistent_point(*m)));
    return objects_before(archived, keep_from);
}

Result<source::LogObjectFacts> LogicalLogArchive::check_object(const Storage&,
                                                               const std::string& name,
                                                               std::string_view content) const {
    const auto span = parse_change_log_object_name(name);
    if (!span) {
        return fail(ErrorCode::usage, "{} is not a log object of a postgres-logical source", name);
    }
    const auto records = LB_TRY(read_change_log(content, name));
    // Every commit an object holds ends inside its span: after its start (the server sends
    // only commits after the position streamed from) and at or before its end (what was
    // confirmed once it was stored).
    for (const auto& record : records) {
        if (record.kind != ChangeRecordKind::message || record.payload.empty()) continue;
        if (record.payload[0] != 'C' && record.payload[0] != 'c') continue;
        const auto facts = read_message_facts(record.payload, InStream::no);
        if (!facts) return fail(ErrorCode::corrupt, "{}: {}", name, facts.error().message);
        if (facts->end_lsn <= span->start || facts->end_lsn > span->end) {
            return fail(ErrorCode::corrupt, "{}: holds a commit ending at {}, outside its span",
                        name, format_lsn_text(facts->end_lsn));
        }
    }
    return source::LogObjectFacts{};
}

bool LogicalLogArchive::is_descriptive(std::string_view) const {
    return false;
}

Result<std::optional<std::string>> LogicalLogArchive::stop_position_at_end(
    const Storage&, const source::BackupReach& reach) const {
    // The end of the object holding the newest commit: applying through it reaches `to`.
    const auto span = parse_change_log_object_name(reach.last_commit_segment);
    if (!span) return std::optional<std::string>();
    return std::optional<std::string>(format_lsn_text(span->end));
}

std::string LogicalLogArchive::describe_branch(std::uint32_t id) const {
    return fmt::format("branch {} (the logical slot's history)", id);
}

}  // namespace lifeboat::postgres_logical
