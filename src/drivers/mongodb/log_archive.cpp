#include "drivers/mongodb/log_archive.hpp"

#include <fmt/format.h>
#include <algorithm>

#include <map>

#include "drivers/mongodb/change_log.hpp"
#include "repository/wal_archive.hpp"
#include "sources/mongodb/bson.hpp"

namespace lifeboat::mongodb_driver {

namespace {

std::vector<std::string> own_names(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& name : names)
        if (parse_change_log_object_name(name)) out.push_back(name);
    return out;
}

}  // namespace

std::optional<std::uint64_t> backup_start_position(const repo::Manifest& backup) {
    const std::string& token = backup.mongodb.resume_token_start;
    if (token.empty()) return std::nullopt;
    if (auto position = resume_token_position(token)) return position;
    // Other servers' tokens do not spell their time: the dump's start (cluster times count
    // seconds too) is as near as the repository can tell.
    return static_cast<std::uint64_t>(backup.start_time.micros / 1000000) << 32;
}

Result<source::RestorableWindow> MongoLogArchive::follow(
    const Storage& storage, const std::vector<repo::Manifest>& manifests) const {
    source::RestorableWindow window;
    const auto names = own_names(LB_TRY(repo::list_wal_names(storage)));
    window.wal_files = names.size();
    std::map<std::string, repo::WalMeta> metas;  // read once however many backups share one
    source::TimelineWindow branch;
    branch.timeline = 1;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        source::BackupReach reach;
        reach.backup_id = manifests[i].id;
        reach.backup_index = i;
        reach.timeline = 1;
        reach.consistent = true;  // a dump restores on its own
        reach.from = manifests[i].stop_time;
        if (const auto start = backup_start_position(manifests[i])) {
            const ChainRun run = follow_chain(names, *start);
            if (!run.objects.empty()) {
                reach.wal_after_stop = true;
                reach.last_segment = run.objects.back();
            }
            reach.gap = run.lost || run.hole;
            if (run.lost) {
                reach.first_missing_segment = run.objects.back();
            } else if (run.hole) {
                reach.first_missing_segment =
                    fmt::format("{}{:016X}-", k_change_log_prefix, run.end);
            }
            // The newest event of the run: read back from its end to the first object holding
            // one.
            for (auto it = run.objects.rbegin(); it != run.objects.rend(); ++it) {
                if (parse_change_log_object_name(*it)->kind == SpanKind::gap) continue;
                auto known = metas.find(*it);
                if (known == metas.end())
                    known = metas.emplace(*it, LB_TRY(repo::read_wal_meta(storage, *it))).first;
                if (!known->second.last_commit) continue;
                // Events of an object covering the point may all precede the dump's end: then it
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

std::vector<std::string> MongoLogArchive::objects_for(
    const repo::Manifest& backup, const source::BackupReach& reach,
    const std::vector<std::string>& archived) const {
    const auto start = backup_start_position(backup);
    if (!start) return {};
    ChainRun run = follow_chain(own_names(archived), *start);
    // Only as far as the reach went: objects stored since are not yet part of it.
    if (auto last = std::find(run.objects.begin(), run.objects.end(), reach.last_segment);
        last != run.objects.end()) {
        run.objects.erase(last + 1, run.objects.end());
    } else {
        run.objects.clear();
    }
    return run.objects;
}

Result<std::vector<std::string>> MongoLogArchive::removable(
    const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
    const repo::Manifest& continuous_from) const {
    // A backup without a start point needs no object; one whose start cannot be placed keeps
    // everything (nothing is removable).
    std::optional<std::uint64_t> keep_from = backup_start_position(continuous_from);
    for (const auto* m : kept) {
        const auto start = backup_start_position(*m);
        if (start && (!keep_from || *start < *keep_from)) keep_from = start;
    }
    if (!keep_from) return std::vector<std::string>();
    std::vector<std::string> out;
    for (const auto& name : archived) {
        const auto span = parse_change_log_object_name(name);
        // A gap at the start point itself still tells that backup's window: kept.
        if (span &&
            (span->end < *keep_from || (span->end == *keep_from && span->kind == SpanKind::events &&
                                        span->start < span->end)))
            out.push_back(name);
    }
    return out;
}

Result<source::LogObjectFacts> MongoLogArchive::check_object(const Storage&,
                                                             const std::string& name,
                                                             std::string_view content) const {
    const auto span = parse_change_log_object_name(name);
    if (!span) return fail(ErrorCode::usage, "{} is not a log object of a mongodb source", name);
    const auto records = LB_TRY(read_change_log(content, name));
    bool gap = false;
    for (const auto& record : records) {
        if (record.kind == ChangeRecordKind::gap) gap = true;
        if (record.kind != ChangeRecordKind::event) continue;
        if (span->kind == SpanKind::gap)
            return fail(ErrorCode::corrupt, "{}: a gap object holds an event", name);
        if (record.cluster_time < span->start || record.cluster_time > span->end) {
            return fail(ErrorCode::corrupt,
                        "{}: holds an event at cluster time {}, outside its span", name,
                        format_cluster_time(record.cluster_time));
        }
        auto event = mongodb::Bson::from_bytes(record.payload);
        if (!event) return fail(ErrorCode::corrupt, "{}: {}", name, event.error().message);
    }
    if (span->kind == SpanKind::gap && !gap)
        return fail(ErrorCode::corrupt, "{}: a gap object without a gap record", name);
    return source::LogObjectFacts{};
}

}  // namespace lifeboat::mongodb_driver
