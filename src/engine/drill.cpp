#include "engine/drill.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/catalog.hpp"
#include "engine/restore.hpp"
#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "source/registry.hpp"
#include "util/process.hpp"

namespace lifeboat::engine {

using nlohmann::json;

namespace {

std::string new_drill_id(Timestamp now) {
    std::random_device rd;
    return fmt::format("{}-{:04x}", format_compact(now), rd() & 0xffff);
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
    // The driver of the repository's source kind validates and stops what the restore started.
    const auto manifests =
        LB_TRY(repo::read_manifests(repository.storage(), repo::ManifestParts::header));
    const source::SourceDriver* driver = LB_TRY(source::driver_for(manifests.backups));
    if (driver->needs_target_server() && !options.target_conninfo) {
        return fail(ErrorCode::usage,
                    "a {} repository restores into a running server, not a scratch instance: "
                    "give drill an empty server to restore into (--target-mongo URI)",
                    driver->kind());
    }
    if (!driver->needs_target_server() && options.target_conninfo) {
        return fail(ErrorCode::usage,
                    "--target-mongo is for a repository whose restores load into a running "
                    "server; a {} drill restores into a scratch instance",
                    driver->kind());
    }
    DrillRecord record;
    record.started = ctx.now();
    record.id = new_drill_id(record.started);
    if (options.target.kind == TargetRequest::Kind::time) record.target = options.target.time;
    record.consistent = options.target.kind == TargetRequest::Kind::consistent;
    if (record.target)
        LB_CHECK(refuse_unreachable_time(repository, *record.target, record.started));
    auto scratch = TempDirectory::create(options.scratch_parent, "lifeboat-drill-");
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
    restore.key_file = options.key_file;
    restore.pg_bin = options.pg_bin;
    restore.run_as_user = options.run_as_user;
    restore.jobs = options.jobs;
    restore.io_depth = options.io_depth;
    restore.replay_memory = options.replay_memory;
    restore.direct_writes = options.direct_writes;
    restore.check_block_ids = options.check_block_ids;
    restore.target_conninfo = options.target_conninfo;
    auto restored = run_restore(repository, restore, ctx);
    if (restored) {
        record.backup_id = restored->backup_id;
        record.files_seconds = restored->files_seconds;
        record.replay_seconds = restored->replay_seconds;
        record.ready_seconds = restored->ready_seconds;
        record.total_seconds = restored->total_seconds;
        record.prepare_seconds = restored->prepare_seconds;
        record.newest_commit = driver->newest_commit(restored->conninfo, options.pg_timeout);
        source::ValidateOptions validate;
        // A server the drill was given: the restore reports it without its password.
        validate.conninfo = options.target_conninfo.value_or(restored->conninfo);
        const auto& backups = manifests.backups;
        const auto restored_backup =
            std::find_if(backups.begin(), backups.end(),
                         [&](const repo::Manifest& m) { return m.id == restored->backup_id; });
        if (restored_backup != backups.end()) validate.recorded = &*restored_backup;
        validate.restore_dir = data_dir;
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
        auto report = driver->validate(validate);
        if (report) {
            for (const auto& c : report->checks) {
                record.checks.push_back(
                    {c.kind, c.name, c.detail, c.passed, c.skipped, c.database});
            }
            for (const auto& s : source::summarize_databases(report->checks, report->tables))
                record.databases.push_back({s.database, s.ok(), source::summary_line(s)});
            record.passed = report->passed();
        } else {
            record.error = report.error().message;
        }
    } else if (restored.error().code == ErrorCode::conflict) {
        // The target was refused before anything was written (a server that is not empty):
        // nothing was tested, and a failed record would read as a broken recovery.
        return std::unexpected(restored.error());
    } else {
        record.error = restored.error().message;
    }
    // Always stop what the drill started, by its data directory, and for certain: removing the
    // directory under a live postmaster would leave a server running on deleted files.
    auto stopped = driver->stop_instance(
        data_dir, {.pg_bin = options.pg_bin, .run_as_user = options.run_as_user});
    if (!stopped) {
        record.stop_error = stopped.error().message + "; its directory was kept";
        scratch->keep();
        record.kept_directory = scratch->path().string();
    } else {
        record.stop_error = *stopped;
    }
    if (options.keep) record.kept_directory = scratch->path().string();

    const std::string object = LB_TRY(repo::encode_object(
        repo::ObjectKind::drill, drill_json(record), repo::PayloadCompression::none));
    LB_CHECK(repository.storage().write(repo::drill_key(record.id), object, Overwrite::never));
    return record;
}

Result<std::vector<DrillRecord>> read_drills(const repo::Repository& repository) {
    std::vector<DrillRecord> out;
    for (const auto& object : LB_TRY(repository.storage().list("drills"))) {
        auto bytes = repository.storage().read(object.key);
        if (!bytes && bytes.error().code != ErrorCode::corrupt)
            return std::unexpected(bytes.error());
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
        // (An encrypted record's damage shows when it is read: its authentication fails.)
        if (!bytes) {
            out.push_back(damaged(bytes.error().message));
            continue;
        }
        auto text = repo::decode_object(*bytes, repo::ObjectKind::drill, object.key);
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

}  // namespace lifeboat::engine
