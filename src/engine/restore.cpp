#include "engine/restore.hpp"

#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "engine/context.hpp"
#include "engine/restore_files.hpp"
#include "engine/window.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/server_config.hpp"
#include "sources/postgres/wal.hpp"
#include "util/net.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

Status refuse_unsafe_target(const RestoreOptions& options, const repo::Manifest& manifest) {
    const bool empty = LB_TRY(directory_is_empty_or_missing(options.target_dir));
    std::error_code ec;
    for (const auto& source :
         {std::optional<fs::path>(manifest.source.pgdata), options.source_pgdata}) {
        if (source && !source->empty() && fs::exists(*source, ec) &&
            fs::equivalent(*source, options.target_dir, ec)) {
            return fail(ErrorCode::conflict,
                        "refusing to restore into {}: it is the source's own data directory",
                        options.target_dir.string());
        }
    }
    if (!empty) {
        return fail(ErrorCode::conflict,
                    "refusing to restore into {}: the directory is not empty (restore always "
                    "creates a new instance)",
                    options.target_dir.string());
    }
    return {};
}

Result<std::map<std::uint32_t, fs::path>> tablespace_locations(const RestoreOptions& options,
                                                               const repo::Manifest& manifest) {
    std::map<std::uint32_t, fs::path> out;
    for (const auto& t : manifest.tablespaces) {
        auto it = options.tablespace_dirs.find(t.oid);
        fs::path dir =
            it != options.tablespace_dirs.end()
                ? it->second
                : fs::path(options.target_dir.string() + "-tablespace-" + std::to_string(t.oid));
        if (!LB_TRY(directory_is_empty_or_missing(dir))) {
            return fail(ErrorCode::conflict,
                        "refusing to restore tablespace {} into {}: the directory is not empty "
                        "(choose another with --tablespace {}=DIR)",
                        t.oid, dir.string(), t.oid);
        }
        std::error_code ec;
        if (fs::exists(t.location, ec) && fs::exists(dir, ec) &&
            fs::equivalent(dir, t.location, ec)) {
            return fail(ErrorCode::conflict,
                        "refusing to restore tablespace {} over the source's own {}", t.oid,
                        t.location);
        }
        out[t.oid] = fs::absolute(dir, ec);
    }
    return out;
}

// The command PostgreSQL runs for each WAL file. An encrypted repository's key file travels
// with it (a passphrase reaches a server started by `restore --start` through its environment).
// Every path is one shell word with % doubled: repository and binary paths may hold quotes,
// spaces, $(…) or %, and none of it may reach the shell or PostgreSQL's %-expansion as syntax.
std::string restore_command(const RestoreOptions& options, const std::string& repository_location) {
    std::string command = fmt::format("{} wal-fetch %f %p --repo {}",
                                      postgres::command_word(options.lifeboat_binary.string()),
                                      postgres::command_word(repository_location));
    if (options.key_file) {
        command += " --key-file " + postgres::command_word(options.key_file->string());
    }
    return command;
}

// PostgreSQL's "YYYY-MM-DD hh:mm:ss.ffffff+00" for a target time (its parser for
// recovery_target_time refuses the "T…Z" spelling).
std::string postgres_time(Timestamp t) {
    std::string text = format_iso8601(t);
    text[10] = ' ';
    if (text.back() == 'Z') text.back() = '+';
    return text + "00";
}

// Where the last transaction end of `reach`'s gap-free run starts.
Result<postgres::Lsn> last_transaction_end(const Storage& storage, const BackupReach& reach) {
    const std::string content = LB_TRY(repo::fetch_wal(storage, reach.last_commit_segment));
    const auto span = LB_TRY(postgres::scan_commit_times(content));
    if (!span.last_end) {
        return fail(ErrorCode::corrupt,
                    "WAL segment {} holds no transaction end although its metadata names one",
                    reach.last_commit_segment);
    }
    return *span.last_end;
}

// The recovery settings of the new instance. The restore owns all of them: a backup of an
// instance that was itself restored carries that restore's target, restore_command and timeline
// in postgresql.auto.conf, and a standby's backup its primary_conninfo. Those lines are
// commented out (visibly, with the reason), and every recovery setting is then written
// explicitly, because postgresql.conf may carry them too and the last setting wins. The empty
// targets come before the one that is set: PostgreSQL refuses a second target type even when
// an empty value follows a set one.
Result<std::vector<std::string>> write_recovery_settings(const RestoreOptions& options, int port,
                                                         const repo::Manifest& manifest,
                                                         const std::string& repository_location,
                                                         std::uint32_t timeline,
                                                         std::optional<postgres::Lsn> stop_after) {
    const fs::path dir = options.target_dir;
    LB_CHECK(write_file_atomic(dir / "backup_label", manifest.backup_label));
    auto quoted = [](std::string_view value, std::string_view what) {
        return postgres::quote_config_value(value, what);
    };
    const std::string command = restore_command(options, repository_location);
    std::string settings = fmt::format(
        "\n# Added by `lifeboat restore` (backup {}, {}, timeline {}). Lifeboat owns every "
        "recovery setting:\n# any the backup carried are commented out above and set here.\n",
        manifest.id,
        options.consistent ? std::string("target consistent")
        : options.target   ? "target " + format_iso8601(*options.target)
                           : std::string("target latest"),
        timeline);
    settings += "restore_command = " +
                LB_TRY(quoted(command,
                              "restore_command (built from the lifeboat binary and "
                              "repository paths)")) +
                "\n";
    settings +=
        "recovery_end_command = ''\narchive_cleanup_command = ''\nprimary_conninfo = ''\n"
        "primary_slot_name = ''\nrecovery_min_apply_delay = 0\npromote_trigger_file = ''\n";
    std::string target_setting;
    if (stop_after) {
        target_setting = "recovery_target_lsn = " +
                         LB_TRY(quoted(postgres::format_lsn(*stop_after), "the target position")) +
                         "\n";
    } else if (options.target) {
        target_setting = "recovery_target_time = " +
                         LB_TRY(quoted(postgres_time(*options.target), "the target time")) + "\n";
    } else if (options.consistent) {
        target_setting = "recovery_target = 'immediate'\n";
    }
    for (const std::string_view name :
         {"recovery_target", "recovery_target_lsn", "recovery_target_name", "recovery_target_time",
          "recovery_target_xid"}) {
        if (!target_setting.starts_with(std::string(name) + " ")) {
            settings += fmt::format("{} = ''\n", name);
        }
    }
    settings += target_setting;
    settings += "recovery_target_inclusive = on\nrecovery_target_action = 'promote'\n";
    settings += fmt::format("recovery_target_timeline = '{}'\n", timeline);
    if (options.archiving == NewInstanceArchiving::off) {
        settings += "archive_mode = 'off'\n";
    }
    if (port != 0) settings += fmt::format("port = {}\n", port);
    // Clusters whose configuration lives outside the data directory (Debian's /etc/postgresql)
    // give a backup without postgresql.conf or pg_hba.conf; the new instance needs both to start.
    std::error_code ec;
    if (!fs::exists(dir / "postgresql.conf", ec)) {
        LB_CHECK(
            write_file_atomic(dir / "postgresql.conf",
                              "# Written by `lifeboat restore`: the source kept its configuration "
                              "outside the data directory.\n"));
    }
    if (!fs::exists(dir / "pg_hba.conf", ec)) {
        LB_CHECK(write_file_atomic(dir / "pg_hba.conf",
                                   "# Written by `lifeboat restore` (the backup had none).\n"
                                   "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
                                   "host all all ::1/128 scram-sha-256\n"));
    }
    if (!fs::exists(dir / "pg_ident.conf", ec))
        LB_CHECK(write_file_atomic(dir / "pg_ident.conf", ""));
    auto existing = read_file(dir / "postgresql.auto.conf");
    const auto base = postgres::comment_out_settings(
        existing ? *existing : std::string(), postgres::recovery_setting_names(),
        fmt::format("[replaced by lifeboat restore of backup {}]", manifest.id));
    LB_CHECK(write_file_atomic(dir / "postgresql.auto.conf", base.text + settings));
    // A standby's backup would start as a standby again and never reach the target.
    fs::remove(dir / "standby.signal", ec);
    LB_CHECK(write_file_atomic(dir / "recovery.signal", ""));
    return base.commented_out;
}

// The most telling line of a server log: the last FATAL/PANIC, else the last line.
std::string log_reason(const fs::path& log) {
    auto text = read_file(log);
    if (!text) return "no server log";
    std::string last, last_fatal;
    std::size_t start = 0;
    while (start < text->size()) {
        std::size_t end = text->find('\n', start);
        if (end == std::string::npos) end = text->size();
        std::string line = text->substr(start, end - start);
        if (!line.empty()) {
            if (line.find("FATAL:") != std::string::npos ||
                line.find("PANIC:") != std::string::npos) {
                last_fatal = line;
            }
            last = line;
        }
        start = end + 1;
    }
    std::string reason = last_fatal.empty() ? last : last_fatal;
    // Drop the log line prefix (time and pid) before the severity.
    for (const char* severity : {"FATAL:", "PANIC:", "ERROR:", "LOG:"}) {
        if (auto at = reason.find(severity); at != std::string::npos) return reason.substr(at);
    }
    return reason;
}

// What starting the instance needs that does not depend on the restored files: found while the
// files are being written (it runs on its own thread), so it costs no recovery time.
struct StartPreparation {
    fs::path bindir;
    std::optional<UserAccount> account;  // runs the server (when lifeboat runs as root)
    double seconds = 0;
};

Result<StartPreparation> prepare_start(const RestoreOptions& options,
                                       const std::string& repository_location) {
    const auto started = Clock::now();
    StartPreparation out;
    out.bindir = LB_TRY(postgres::find_server_bindir(options.pg_bin));
    out.account = LB_TRY(postgres::server_account(options.target_dir, options.run_as_user));
    if (out.account) {
        // restore_command runs as that account: it must be able to run lifeboat and read the
        // repository, or recovery would stop at the first WAL file. Find out now, not later.
        auto probe = run_process(
            {options.lifeboat_binary.string(), "list", "--repo", repository_location, "--json"},
            {.run_as = out.account, .merge_stderr = true});
        if (!probe || probe->exit_status != 0) {
            return fail(ErrorCode::config,
                        "the account '{}' that runs the restored server cannot run {} or read "
                        "repository {} (restore_command needs both); install lifeboat in a "
                        "directory it can reach (e.g. /usr/local/bin) and make the repository "
                        "readable to it",
                        out.account->name, options.lifeboat_binary.string(), repository_location);
        }
    }
    out.seconds = seconds_since(started);
    return out;
}

// Starts the restored instance and waits for the end of recovery and a read-write connection.
Status start_and_wait(const RestoreOptions& options, const OperationContext& ctx,
                      const StartPreparation& prepared,
                      const std::map<std::uint32_t, fs::path>& tablespace_dirs,
                      RestoreOutcome& outcome) {
    const auto& account = prepared.account;
    if (account) {
        LB_CHECK(change_owner_recursive(options.target_dir, *account));
        for (const auto& [oid, dir] : tablespace_dirs)
            LB_CHECK(change_owner_recursive(dir, *account));
    }
    postgres::LocalServer server(prepared.bindir, options.target_dir, account);
    const fs::path log = options.target_dir / "lifeboat-restore.log";
    const auto started = Clock::now();
    LB_CHECK(server.start(log, fmt::format("-p {}", outcome.port)));
    outcome.started = true;
    const auto deadline = started + options.start_timeout;
    // Phase 1: recovery (WAL replay) ends when PostgreSQL removes recovery.signal and reports
    // itself ready for normal operation.
    for (;;) {
        auto status = LB_TRY(server.status());
        std::error_code ec;
        const bool recovering = fs::exists(options.target_dir / "recovery.signal", ec);
        if (status && status->state == "ready" && !recovering) break;
        if (!server.is_running() && seconds_since(started) > 1.0) {
            return fail(ErrorCode::database,
                        "the restored server stopped during recovery: {} (server log: {}; the "
                        "directory is kept for diagnosis)",
                        log_reason(log), log.string());
        }
        if (Clock::now() > deadline) {
            return fail(ErrorCode::database, "recovery did not finish within {} s (see {})",
                        options.start_timeout.count(), log.string());
        }
        ctx.report({"replaying WAL", 0, 0});
        LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(50)));
    }
    outcome.replay_seconds = seconds_since(started);
    // Phase 2: a connection that can write.
    const auto promoted = Clock::now();
    auto status = LB_TRY(server.status());
    const std::string user = account ? account->name : LB_TRY(user_name_of(::geteuid()));
    outcome.conninfo = postgres::conninfo_for(*status, user);
    for (;;) {
        auto conn = postgres::Connection::open(outcome.conninfo);
        if (conn) {
            auto writable = conn->query_value(
                "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = "
                "'off'");
            if (writable && *writable == "t") break;
        }
        if (Clock::now() > deadline) {
            return fail(ErrorCode::database,
                        "the restored server did not accept read-write "
                        "connections within {} s ({})",
                        options.start_timeout.count(),
                        conn ? "still read-only" : conn.error().message);
        }
        LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(50)));
    }
    outcome.ready_seconds = seconds_since(promoted);
    return {};
}

}  // namespace

Result<RestoreOutcome> run_restore(repo::Repository& repository, const RestoreOptions& options,
                                   const OperationContext& ctx) {
    const auto started = Clock::now();
    if (options.backup_id) LB_CHECK(repo::check_backup_id(*options.backup_id));
    // A port already taken would fail the new server's start only after every file is written:
    // refuse it now. Sockets are looked for where PostgreSQL puts them by default.
    if (options.port) {
        auto free = check_port_free(*options.port, {"/var/run/postgresql", "/tmp"});
        if (!free) {
            return fail(free.error().code, "{}: choose another --port{} (nothing was written)",
                        free.error().message,
                        options.start == StartServer::yes
                            ? ", or leave it out and restore picks a free one"
                            : "");
        }
    }
    // Held until the instance is ready (with --start): expire must not remove what this reads.
    const auto lock = LB_TRY(repo::RepositoryLock::shared_for_reading(
        repository.storage(), "restore", std::chrono::seconds(3600), report_waiting(ctx.progress),
        lock_timing(ctx)));
    // A damaged manifest blocks only its own backup; the others stay restorable.
    auto manifest_set = LB_TRY(repo::read_manifests(repository.storage()));
    const std::vector<repo::Manifest>& manifests = manifest_set.backups;
    std::vector<std::string> warnings;
    for (const auto& damaged : manifest_set.damaged) {
        if (options.backup_id && damaged.key == repo::manifest_key(*options.backup_id)) {
            return fail(ErrorCode::corrupt,
                        "backup {} cannot be restored: its manifest is damaged ({}); `lifeboat "
                        "copy` it back from another repository, or restore another backup",
                        *options.backup_id, damaged.reason);
        }
        warnings.push_back(fmt::format("left out damaged {} ({})", damaged.key, damaged.reason));
    }
    if (manifests.empty()) {
        return fail(ErrorCode::outside_window, "repository {} holds no backup yet",
                    repository.location());
    }
    if (options.target && options.consistent)
        return fail(ErrorCode::usage, "a time target and 'consistent' exclude each other");
    const RestorableWindow window = LB_TRY(compute_window(repository.storage(), manifests));
    const BackupReach* reach = LB_TRY(choose_restore(window, {.target = options.target,
                                                              .consistent = options.consistent,
                                                              .backup_id = options.backup_id,
                                                              .timeline = options.timeline}));
    // 'latest' means the end of the archive. With a hole in it, PostgreSQL would stop at the hole
    // and promote there, silently short of what the archive holds after it.
    if (!options.target && !options.consistent && reach->gap) {
        return fail(ErrorCode::outside_window,
                    "cannot restore to latest: WAL segment {} is missing from the archive, so "
                    "replay would stop there although later WAL exists; restore to a time before "
                    "it (--to, within {}) or recover the segment",
                    reach->first_missing_segment,
                    reach->timeline == window.backups[reach->backup_index].timeline
                        ? window.describe()
                        : fmt::format("{} .. {}", format_iso8601(reach->from),
                                      reach->to ? format_iso8601(*reach->to) : std::string("?")));
    }
    // The end of the window is included, but PostgreSQL stops a time target only at a later
    // transaction end, which the archive does not hold yet: recovery would run out of WAL short
    // of its target and refuse to finish. Stopping right after the run's last transaction end
    // (inclusive LSN target) restores the same data, and no later-archived WAL can add to it.
    std::optional<postgres::Lsn> stop_after;
    if (options.target && reach->to && *options.target == *reach->to) {
        stop_after = LB_TRY(last_transaction_end(repository.storage(), *reach));
    }
    const repo::Manifest* manifest = nullptr;
    for (const auto& m : manifests) {
        if (m.id == reach->backup_id) manifest = &m;
    }
    // A manifest that would write outside the target (forged, or damaged) is refused before
    // anything is created.
    LB_CHECK(repo::check_entries_safe(*manifest));
    LB_CHECK(refuse_unsafe_target(options, *manifest));
    auto tablespace_dirs = LB_TRY(tablespace_locations(options, *manifest));
    // A damaged index object is worked around by reading the footers of the packs it listed.
    const repo::BlockIndex index = LB_TRY(
        repo::load_block_index(repository.storage(), repo::OnDamagedIndex::rebuild_from_packs));
    for (const auto& skipped : index.skipped) {
        warnings.push_back(fmt::format(
            "damaged {} ({}): its packs were read directly; `lifeboat repair` rebuilds it",
            skipped.key, skipped.reason));
    }
    for (const auto& pack : index.unreadable_packs)
        warnings.push_back(fmt::format("unreadable {}: {}", pack.key, pack.reason));

    RestoreOutcome outcome;
    outcome.warnings = std::move(warnings);
    outcome.backup_id = manifest->id;
    outcome.backup_timeline = manifest->timeline;
    outcome.timeline = reach->timeline;
    outcome.target = options.target;
    outcome.reach_end = reach->to;
    std::error_code path_error;
    outcome.target_dir = fs::absolute(options.target_dir, path_error);
    // The non-throwing overloads: a target below a directory we may not enter is an error to
    // report, not an exception that skips releasing the lock.
    const bool existed = fs::exists(options.target_dir, path_error);
    auto undo = [&](const Error& error) -> Result<RestoreOutcome> {
        // Nothing half-restored may look like a usable instance.
        std::error_code ec;
        if (existed) {
            for (auto& child : fs::directory_iterator(options.target_dir, ec))
                fs::remove_all(child.path(), ec);
        } else {
            fs::remove_all(options.target_dir, ec);
        }
        for (const auto& [oid, dir] : tablespace_dirs)
            fs::remove_all(dir, ec);
        return std::unexpected(error);
    };

    MaterializeOptions materialize{.manifest = manifest,
                                   .index = &index,
                                   .storage = &repository.storage(),
                                   .hasher = &repository.block_hasher(),
                                   .target_dir = options.target_dir,
                                   .tablespace_dirs = tablespace_dirs,
                                   .jobs = options.jobs ? options.jobs : default_jobs(),
                                   .progress = ctx.progress,
                                   .keep_going = [&lock, &ctx]() -> Status {
                                       LB_CHECK(ctx.check());
                                       return lock ? lock->check() : Status{};
                                   }};
    // restore_command runs in the new data directory: give it an absolute path for a local
    // repository, and the location exactly as given (endpoint and all) for a URL.
    const std::string location_for_commands =
        repository.storage().features().local_path || options.repository_location.empty()
            ? repository.location()
            : options.repository_location;
    std::future<Result<StartPreparation>> preparation;
    if (options.start == StartServer::yes) {
        preparation = std::async(std::launch::async,
                                 [&] { return prepare_start(options, location_for_commands); });
    }
    auto stats = materialize_backup(materialize);
    std::optional<StartPreparation> prepared;
    if (preparation.valid()) {
        auto result = preparation.get();
        if (stats && !result) return undo(result.error());
        if (result) prepared = std::move(*result);
    }
    if (!stats) return undo(stats.error());
    outcome.files = stats->files;
    outcome.bytes = stats->bytes;
    if (prepared) outcome.prepare_seconds = prepared->seconds;
    // A started instance needs its own port: the source usually runs on this host. Chosen only
    // now, so that nothing takes it while the files are written.
    if (options.port) {
        outcome.port = *options.port;
    } else if (options.start == StartServer::yes) {
        auto port = free_local_port();
        if (!port) return undo(port.error());
        outcome.port = *port;
    }
    // Files written, recovery not yet configured: a cancellation (or a test stopping here)
    // removes them again.
    if (auto stage = ctx.stage("restore:settings"); !stage) return undo(stage.error());
    auto settings = write_recovery_settings(options, outcome.port, *manifest, location_for_commands,
                                            reach->timeline, stop_after);
    if (!settings) return undo(settings.error());
    outcome.replaced_settings = std::move(*settings);
    outcome.files_seconds = seconds_since(started);
    if (options.start == StartServer::yes) {
        auto status = start_and_wait(options, ctx, *prepared, tablespace_dirs, outcome);
        if (!status) {
            if (!outcome.started) return undo(status.error());
            return std::unexpected(status.error());
        }
    }
    outcome.total_seconds = seconds_since(started);
    return outcome;
}

}  // namespace lifeboat::engine
