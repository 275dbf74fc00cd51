#include "repository/drill_record.hpp"

#include <nlohmann/json.hpp>

#include "repository/json_reader.hpp"

namespace lifeboat::repo {

using nlohmann::json;

std::string drill_key(const std::string& id) {
    return "drills/" + id;
}

namespace {

json to_json(const DrillRecord& r) {
    json checks = json::array();
    for (const auto& c : r.checks) {
        checks.push_back({{"kind", c.kind},
                          {"name", c.name},
                          {"database", c.database},
                          {"passed", c.passed},
                          {"skipped", c.skipped},
                          {"detail", c.detail}});
    }
    json databases = json::array();
    for (const auto& d : r.databases)
        databases.push_back({{"name", d.name}, {"passed", d.passed}, {"summary", d.summary}});
    auto time = [](const std::optional<Timestamp>& t) {
        return t ? json(format_iso8601(*t)) : json(nullptr);
    };
    return {{"id", r.id},
            {"started", format_iso8601(r.started)},
            {"target", r.target       ? json(format_iso8601(*r.target))
                       : r.consistent ? json("consistent")
                                      : json("latest")},
            {"checked_against", time(r.checked_against)},
            {"backup", r.backup_id},
            {"passed", r.passed},
            {"error", r.error},
            {"phases",
             {{"files_seconds", r.files_seconds},
              {"replay_seconds", r.replay_seconds},
              {"ready_seconds", r.ready_seconds},
              {"total_seconds", r.total_seconds},
              {"prepare_seconds_in_parallel", r.prepare_seconds}}},
            {"newest_commit", time(r.newest_commit)},
            {"data_loss_bound_seconds",
             r.target && r.newest_commit
                 ? json(static_cast<double>(r.target->micros - r.newest_commit->micros) / 1e6)
                 : json(nullptr)},
            {"databases", databases},
            {"checks", checks},
            {"kept_directory", r.kept_directory},
            {"stop_error", r.stop_error}};
}

Result<DrillRecord> from_json(const JsonValue& j) {
    DrillRecord r;
    r.id = LB_TRY(j.required<std::string>("id"));
    r.started = LB_TRY(j.required<Timestamp>("started"));
    const JsonValue target = LB_TRY(j.field("target"));
    const std::string target_text = LB_TRY(target.as<std::string>());
    if (target_text == "consistent") {
        r.consistent = true;
    } else if (target_text != "latest") {
        r.target = LB_TRY(target.as<Timestamp>());
    }
    r.checked_against = LB_TRY(j.nullable<Timestamp>("checked_against"));
    r.backup_id = LB_TRY(j.optional<std::string>("backup", ""));
    r.passed = LB_TRY(j.required<bool>("passed"));
    r.error = LB_TRY(j.optional<std::string>("error", ""));
    const JsonValue p = LB_TRY(j.field("phases"));
    r.files_seconds = LB_TRY(p.optional<double>("files_seconds", 0.0));
    r.replay_seconds = LB_TRY(p.optional<double>("replay_seconds", 0.0));
    r.ready_seconds = LB_TRY(p.optional<double>("ready_seconds", 0.0));
    r.total_seconds = LB_TRY(p.optional<double>("total_seconds", 0.0));
    r.prepare_seconds = LB_TRY(p.optional<double>("prepare_seconds_in_parallel", 0.0));
    r.newest_commit = LB_TRY(j.nullable<Timestamp>("newest_commit"));
    LB_CHECK(j.for_each_in_optional("checks", [&](const JsonValue& c) -> Status {
        // One LB_TRY per statement: an early return from inside a braced initializer leaks the
        // members it already built (g++).
        auto kind = LB_TRY(c.optional<std::string>("kind", ""));
        auto name = LB_TRY(c.optional<std::string>("name", ""));
        auto detail = LB_TRY(c.optional<std::string>("detail", ""));
        const bool passed = LB_TRY(c.optional<bool>("passed", false));
        const bool skipped = LB_TRY(c.optional<bool>("skipped", false));
        auto database = LB_TRY(c.optional<std::string>("database", ""));
        r.checks.push_back({std::move(kind), std::move(name), std::move(detail), passed, skipped,
                            std::move(database)});
        return {};
    }));
    LB_CHECK(j.for_each_in_optional("databases", [&](const JsonValue& d) -> Status {
        auto name = LB_TRY(d.optional<std::string>("name", ""));
        const bool passed = LB_TRY(d.optional<bool>("passed", false));
        auto summary = LB_TRY(d.optional<std::string>("summary", ""));
        r.databases.push_back({std::move(name), passed, std::move(summary)});
        return {};
    }));
    r.kept_directory = LB_TRY(j.optional<std::string>("kept_directory", ""));
    r.stop_error = LB_TRY(j.optional<std::string>("stop_error", ""));
    return r;
}

}  // namespace

Result<DrillRecord> parse_drill_record(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "drill record"));
    return from_json(doc.root());
}

std::string drill_json(const DrillRecord& record) {
    return to_json(record).dump();
}

}  // namespace lifeboat::repo
