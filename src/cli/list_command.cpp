// `lifeboat list` (alias `info`): the backups of a repository, its restorable window per
// timeline, archived WAL and damaged objects, as a table or JSON.
#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "engine/catalog.hpp"
#include "engine/drill.hpp"

namespace lifeboat::cli {

using nlohmann::json;

namespace {

void print_json(const json& j) {
    std::printf("%s\n", j.dump(2).c_str());
}

std::string optional_time(const std::optional<Timestamp>& t) {
    return t ? format_iso8601(*t) : std::string("-");
}

json time_or_null(const std::optional<Timestamp>& t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

}  // namespace

Status run_list(const Settings& s, const ListArgs& args, OutputFormat format) {
    const std::string repository = LB_TRY(s.repository());
    const repo::Repository opened = LB_TRY(open_repository(s, repository));
    const engine::Catalog catalog = LB_TRY(engine::load_catalog(opened));
    for (const auto& [id, pin] : catalog.pins)
        if (!pin.problem.empty())
            std::fprintf(stderr, "lifeboat: warning: %s\n", pin.problem.c_str());
    const auto& window = catalog.window;
    std::map<std::string, std::string> wanted;
    for (const auto& tag : args.tags) {
        auto [key, value] = LB_TRY(parse_tag(tag, "--tag"));
        wanted[key] = value;
    }
    auto shown = [&](const repo::Manifest& m) {
        for (const auto& [k, v] : wanted) {
            auto it = m.tags.find(k);
            if (it == m.tags.end() || it->second != v) return false;
        }
        return true;
    };
    // When each backup was last proven restorable by a passing drill.
    std::map<std::string, Timestamp> proven;
    for (const auto& d : LB_TRY(engine::read_drills(opened))) {
        if (d.passed) proven[d.backup_id] = d.started;
    }
    auto proven_at = [&](const std::string& id) -> std::optional<Timestamp> {
        auto it = proven.find(id);
        if (it == proven.end()) return std::nullopt;
        return it->second;
    };
    const Timestamp now = system_clock().now();
    auto pin_of = [&](const std::string& id) -> const repo::Pin* {
        auto it = catalog.pins.find(id);
        return it != catalog.pins.end() && it->second.holds_at(now) ? &it->second : nullptr;
    };
    const engine::WindowState state = engine::window_state(window);
    auto is_isolated = [&](const std::string& id) {
        return std::find(window.isolated.begin(), window.isolated.end(), id) !=
               window.isolated.end();
    };
    if (format == OutputFormat::json) {
        json timelines = json::array();
        for (const auto& t : window.timelines) {
            json ids = json::array();
            for (const auto& r : t.reaches)
                if (r.consistent) ids.push_back(r.backup_id);
            timelines.push_back({{"timeline", t.timeline},
                                 {"parent", t.parent ? json(*t.parent) : json(nullptr)},
                                 {"branch_lsn", t.branch_lsn ? json(*t.branch_lsn) : json(nullptr)},
                                 {"branch_time", time_or_null(t.branch_time)},
                                 {"ancestors", t.ancestors},
                                 {"earliest", time_or_null(t.earliest)},
                                 {"latest", time_or_null(t.latest)},
                                 {"backups", ids},
                                 {"problem", t.problem.empty() ? json(nullptr) : json(t.problem)}});
        }
        json backups = json::array();
        for (std::size_t i = 0; i < catalog.backups.size(); ++i) {
            const auto& m = catalog.backups[i];
            const auto& reach = window.backups[i];
            if (!shown(m)) continue;
            const repo::Pin* pin = pin_of(m.id);
            backups.push_back({{"id", m.id},
                               {"source_kind", m.source.kind},
                               {"start_time", format_iso8601(m.start_time)},
                               {"stop_time", format_iso8601(m.stop_time)},
                               {"start_lsn", m.start_lsn},
                               {"stop_lsn", m.stop_lsn},
                               {"timeline", m.timeline},
                               {"data_bytes", m.stats.data_bytes},
                               {"stored_bytes", m.stats.stored_bytes},
                               {"files", m.stats.files},
                               {"tags", m.tags},
                               {"restorable", reach.consistent},
                               {"isolated", is_isolated(m.id)},
                               {"reach_from", format_iso8601(reach.from)},
                               {"reach_to", time_or_null(reach.to)},
                               {"pinned", pin != nullptr},
                               {"last_proven", time_or_null(proven_at(m.id))},
                               {"pinned_until", pin ? time_or_null(pin->until) : json(nullptr)}});
        }
        print_json({{"repository", catalog.repository},
                    {"repository_name", s.repository_name(repository).empty()
                                            ? json(nullptr)
                                            : json(s.repository_name(repository))},
                    {"stored_bytes", catalog.stored_bytes},
                    {"logical_bytes", catalog.logical_bytes},
                    {"savings_ratio", catalog.savings_ratio()},
                    {"backups", backups},
                    {"timelines", timelines},
                    {"damaged", damaged_json(catalog.damaged)},
                    {"window",
                     {{"earliest", time_or_null(window.earliest)},
                      {"latest", time_or_null(window.latest)},
                      {"status", state.status},
                      {"reason", state.reason.empty() ? json(nullptr) : json(state.reason)},
                      {"wal_files", window.wal_files},
                      {"last_segment", window.last_segment},
                      {"gap", window.gap},
                      {"isolated_backups", window.isolated},
                      {"first_missing_segment", window.first_missing_segment.empty()
                                                    ? json(nullptr)
                                                    : json(window.first_missing_segment)}}}});
        return damaged_objects_status(catalog.damaged);
    }
    std::printf("repository %s\n", s.describe_repository(catalog.repository).c_str());
    if (catalog.backups.empty()) {
        std::printf("no backups yet\n");
    } else {
        std::printf("%-20s %-28s %-28s %-12s %-12s %3s %10s %10s  %s\n", "ID", "START", "STOP",
                    "START LSN", "STOP LSN", "TL", "DATA", "ADDED", "TAGS");
        for (std::size_t i = 0; i < catalog.backups.size(); ++i) {
            const auto& m = catalog.backups[i];
            if (!shown(m)) continue;
            // Markers in brackets, then the KEY=VALUE tags, each separated by one space.
            std::vector<std::string> notes;
            if (const repo::Pin* pin = pin_of(m.id)) {
                notes.push_back(pin->until ? "[pinned until " + format_iso8601(*pin->until) + "]"
                                           : std::string("[pinned]"));
            }
            if (auto at = proven_at(m.id)) notes.push_back("[proven " + format_iso8601(*at) + "]");
            if (!window.backups[i].consistent) notes.push_back("[WAL missing]");
            for (const auto& [k, v] : m.tags)
                notes.push_back(k + "=" + v);
            std::string tags;
            for (const auto& note : notes)
                tags += (tags.empty() ? "" : " ") + note;
            std::printf("%-20s %-28s %-28s %-12s %-12s %3u %10s %10s  %s\n", m.id.c_str(),
                        format_iso8601(m.start_time).c_str(), format_iso8601(m.stop_time).c_str(),
                        m.start_lsn.c_str(), m.stop_lsn.c_str(), m.timeline,
                        human_bytes(m.stats.data_bytes).c_str(),
                        human_bytes(m.stats.stored_bytes).c_str(), tags.c_str());
        }
    }
    std::printf("stored: %s\n",
                stored_summary(catalog.stored_bytes, catalog.logical_bytes).c_str());
    // Both ends included: --to the end restores the newest archived commit (restore.cpp).
    if (window.earliest && window.latest) {
        std::printf("restorable window: %s .. %s\n", format_iso8601(*window.earliest).c_str(),
                    format_iso8601(*window.latest).c_str());
    } else {
        std::printf("restorable window: none yet: %s\n", state.reason.c_str());
    }
    // With several timelines the same time can mean different data: show each one's window.
    if (window.timelines.size() > 1 ||
        (window.timelines.size() == 1 && window.timelines.front().parent)) {
        for (const auto& t : window.timelines) {
            std::printf("  timeline %u", t.timeline);
            if (t.parent) {
                const std::string after =
                    t.branch_time ? ", after " + format_iso8601(*t.branch_time) : std::string();
                std::printf(" (branched off %u at %s%s)", *t.parent, t.branch_lsn->c_str(),
                            after.c_str());
            }
            if (!t.problem.empty()) {
                std::printf(": not followed: %s\n", t.problem.c_str());
            } else {
                std::printf(": %s .. %s\n", optional_time(t.earliest).c_str(),
                            optional_time(t.latest).c_str());
            }
        }
    }
    if (!window.isolated.empty()) {
        std::string ids;
        for (const auto& id : window.isolated)
            ids += (ids.empty() ? "" : ", ") + id;
        std::printf(
            "isolated backups (kept without the WAL after them; restore one with --backup ID "
            "--to consistent): %s\n",
            ids.c_str());
    }
    std::printf("archived WAL files: %zu", window.wal_files);
    if (window.gap) {
        std::printf("; GAP: segment %s is missing, so WAL after it cannot be replayed",
                    window.first_missing_segment.c_str());
    } else if (!window.last_segment.empty()) {
        std::printf("; newest usable segment %s", window.last_segment.c_str());
    }
    std::printf("\n");
    for (const auto& d : catalog.damaged)
        std::printf("DAMAGED %s: %s\n", d.key.c_str(), d.reason.c_str());
    return damaged_objects_status(catalog.damaged);
}

}  // namespace lifeboat::cli
