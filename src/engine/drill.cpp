#include "engine/drill.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/catalog.hpp"
#include "engine/restore.hpp"
#include "engine/validate.hpp"
#include "repository/json_reader.hpp"
#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "util/process.hpp"

namespace lifeboat::engine {

using nlohmann::json;

namespace {

std::string drill_key(const std::string& id) {
    return "drills/" + id;
}

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

Result<DrillRecord> from_json(const repo::JsonValue& j) {
    DrillRecord r;
    r.id = LB_TRY(j.required<std::string>("id"));
    r.started = LB_TRY(j.required<Timestamp>("started"));
    const repo::JsonValue target = LB_TRY(j.field("target"));
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
    const repo::JsonValue p = LB_TRY(j.field("phases"));
    r.files_seconds = LB_TRY(p.optional<double>("files_seconds", 0.0));
    r.replay_seconds = LB_TRY(p.optional<double>("replay_seconds", 0.0));
    r.ready_seconds = LB_TRY(p.optional<double>("ready_seconds", 0.0));
    r.total_seconds = LB_TRY(p.optional<double>("total_seconds", 0.0));
    r.prepare_seconds = LB_TRY(p.optional<double>("prepare_seconds_in_parallel", 0.0));
    r.newest_commit = LB_TRY(j.nullable<Timestamp>("newest_commit"));
    LB_CHECK(j.for_each_in_optional("checks", [&](const repo::JsonValue& c) -> Status {
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
    LB_CHECK(j.for_each_in_optional("databases", [&](const repo::JsonValue& d) -> Status {
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

// How long a postmaster sent SIGQUIT may take before it is killed.
constexpr std::chrono::seconds k_stop_grace{10};

std::string new_drill_id(Timestamp now) {
    std::random_device rd;
    return fmt::format("{}-{:04x}", format_compact(now), rd() & 0xffff);
}

// The newest commit the restored instance holds, when track_commit_timestamp makes it known.
std::optional<Timestamp> newest_commit(const std::string& conninfo, std::chrono::seconds limit) {
    auto conn = postgres::Connection::open(conninfo, {.statement = limit});
    if (!conn) return std::nullopt;
    auto value = conn->query_value(
        "SELECT (extract(epoch FROM timestamp) * 1000000)::bigint FROM pg_last_committed_xact()");
    if (!value || value->empty()) return std::nullopt;
    std::int64_t micros = 0;
    std::from_chars(value->data(), value->data() + value->size(), micros);
    return Timestamp{micros};
}

// A time no restore could ever reach — older than every backup, or still to come — is refused
// as restore refuses it (ErrorCode::outside_window, naming the window): such a drill would test
// nothing, and a failed record would read as a broken recovery. A time the archive should
// reach but does not (a missing segment) is a real failure, recorded by the drill.
Status refuse_unreachable_time(const repo::Repository& repository, Timestamp target,
                               Timestamp now) {
    const Catalog catalog = LB_TRY(load_catalog(repository));
    const RestorableWindow& window = catalog.window;
    if (now < target) {
        return fail(ErrorCode::outside_window,
                    "{} is in the future: a drill restores a past point (the restorable window is "
                    "{})",
                    format_iso8601(target), window.describe());
    }
    std::optional<Timestamp> oldest;
    for (const auto& r : window.backups)
        if (r.consistent && (!oldest || r.from < *oldest)) oldest = r.from;
    if (!oldest) {
        return fail(ErrorCode::outside_window,
                    "no backup can be restored yet, so {} cannot be drilled: {}",
                    format_iso8601(target), window_state(window).reason);
    }
    if (target < *oldest) {
        return fail(ErrorCode::outside_window,
                    "{} is older than every backup (the oldest ends at {}): the restorable window "
                    "is {}; drill a later time (--to, --ago) or --to latest",
                    format_iso8601(target), format_iso8601(*oldest), window.describe());
    }
    return {};
}

}  // namespace

Result<DrillRecord> run_drill(repo::Repository& repository, const DrillOptions& options,
                              const OperationContext& ctx) {
    DrillRecord record;
    record.started = ctx.now();
    record.id = new_drill_id(record.started);
    if (options.target.kind == TargetRequest::Kind::time) record.target = options.target.time;
    record.consistent = options.target.kind == TargetRequest::Kind::consistent;
    if (record.target)
        LB_CHECK(refuse_unreachable_time(repository, *record.target, record.started));
    auto scratch = TempDirectory::create("/tmp", "lifeboat-drill-");
    if (!scratch) return std::unexpected(scratch.error());
    if (options.keep) scratch->keep();
    const fs::path data_dir = scratch->path() / "data";
    // The server's account must be able to reach the data directory inside the scratch one.
    ::chmod(scratch->path().c_str(), 0755);

    RestoreOptions restore;
    restore.repository_location = options.repository_location;
    restore.key_file = options.key_file;
    restore.target = record.target;
    restore.consistent = record.consistent;
    restore.timeline = options.timeline;
    restore.target_dir = data_dir;
    restore.start = StartServer::yes;
    restore.lifeboat_binary = options.lifeboat_binary;
    restore.pg_bin = options.pg_bin;
    restore.run_as_user = options.run_as_user;
    restore.jobs = options.jobs;
    auto restored = run_restore(repository, restore, ctx);
    if (restored) {
        record.backup_id = restored->backup_id;
        record.files_seconds = restored->files_seconds;
        record.replay_seconds = restored->replay_seconds;
        record.ready_seconds = restored->ready_seconds;
        record.total_seconds = restored->total_seconds;
        record.prepare_seconds = restored->prepare_seconds;
        record.newest_commit = newest_commit(restored->conninfo, options.pg_timeout);
        ValidateOptions validate;
        validate.conninfo = restored->conninfo;
        validate.checks_file = options.checks_file;
        // 'latest' has no target time, but what was restored has an end: the newest commit it
        // holds (known with track_commit_timestamp), at least the end of the window planned.
        record.checked_against = record.target;
        if (!record.target) {
            record.checked_against = restored->reach_end;
            if (record.newest_commit &&
                (!record.checked_against || *record.checked_against < *record.newest_commit)) {
                record.checked_against = record.newest_commit;
            }
        }
        validate.target = record.checked_against;
        validate.databases = options.databases;
        validate.statement_timeout = options.pg_timeout;
        auto report = run_validation(validate);
        if (report) {
            for (const auto& c : report->checks) {
                record.checks.push_back(
                    {c.kind, c.name, c.detail, c.passed, c.skipped, c.database});
            }
            for (const auto& s : summarize_databases(report->checks, report->tables))
                record.databases.push_back({s.database, s.ok(), summary_line(s)});
            record.passed = report->passed();
        } else {
            record.error = report.error().message;
        }
    } else {
        record.error = restored.error().message;
    }
    // Always stop what the drill started, by its data directory, and for certain: removing the
    // directory under a live postmaster would leave a server running on deleted files.
    if (auto bindir = postgres::find_server_bindir(options.pg_bin)) {
        auto account = postgres::server_account(data_dir, options.run_as_user);
        postgres::LocalServer server(*bindir, data_dir,
                                     account ? *account : std::optional<UserAccount>());
        auto stopped = server.stop_for_certain(postgres::LocalServer::StopMode::fast, k_stop_grace);
        if (!stopped) {
            record.stop_error = stopped.error().message + "; its directory was kept";
            scratch->keep();
            record.kept_directory = scratch->path().string();
        } else {
            record.stop_error = *stopped;
        }
    }
    if (options.keep) record.kept_directory = scratch->path().string();

    const std::string object = LB_TRY(repo::encode_object(
        repo::ObjectKind::drill, to_json(record).dump(), repo::PayloadCompression::none));
    LB_CHECK(repository.storage().write(drill_key(record.id), object, Overwrite::never));
    return record;
}

Result<std::vector<DrillRecord>> read_drills(const repo::Repository& repository) {
    std::vector<DrillRecord> out;
    for (const auto& object : LB_TRY(repository.storage().list("drills"))) {
        const std::string bytes = LB_TRY(repository.storage().read(object.key));
        // One damaged record must not hide every other drill (nor make `list`, `report` and
        // `drills` fail until someone deletes it by hand): it is shown as a failed drill that
        // names the object.
        auto damaged = [&](const std::string& why) {
            DrillRecord r;
            r.id = object.key.substr(object.key.find('/') + 1);
            r.passed = false;
            r.error = fmt::format("unreadable drill record {}: {}", object.key, why);
            return r;
        };
        auto text = repo::decode_object(bytes, repo::ObjectKind::drill, object.key);
        if (!text) {
            out.push_back(damaged(text.error().message));
            continue;
        }
        auto record = parse_drill_record(*text, object.key);
        out.push_back(record ? std::move(*record)
                             : damaged(repo::damaged_object(object.key, record.error()).reason));
    }
    std::sort(out.begin(), out.end(),
              [](const DrillRecord& a, const DrillRecord& b) { return a.started < b.started; });
    return out;
}

Result<DrillRecord> parse_drill_record(std::string_view text, std::string_view key) {
    const repo::JsonDocument doc = LB_TRY(repo::JsonDocument::parse(text, key, "drill record"));
    return from_json(doc.root());
}

std::string drill_json(const DrillRecord& record) {
    return to_json(record).dump();
}

}  // namespace lifeboat::engine
