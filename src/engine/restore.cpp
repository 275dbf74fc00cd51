#include "engine/restore.hpp"

#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "engine/restore_files.hpp"
#include "engine/window.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "util/net.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string quote_setting(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
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
        out[t.oid] = fs::absolute(dir);
    }
    return out;
}

// The command PostgreSQL runs for each WAL file. An encrypted repository's key file travels
// with it (a passphrase reaches a server started by `restore --start` through its environment).
std::string restore_command(const RestoreOptions& options, const std::string& repository_location) {
    std::string command = fmt::format("'{}' wal-fetch %f %p --repo '{}'",
                                      options.lifeboat_binary.string(), repository_location);
    if (const auto keys = repo::KeySource::from_environment(); keys.key_file) {
        command += fmt::format(" --key-file '{}'", keys.key_file->string());
    }
    return command;
}

Status write_recovery_settings(const RestoreOptions& options, int port,
                               const repo::Manifest& manifest,
                               const std::string& repository_location) {
    const fs::path dir = options.target_dir;
    LB_CHECK(write_file_atomic(dir / "backup_label", manifest.backup_label));
    std::string settings = fmt::format(
        "\n# Added by `lifeboat restore` (backup {}, {}).\n"
        "restore_command = {}\n",
        manifest.id,
        options.consistent ? std::string("target consistent")
        : options.target   ? "target " + format_iso8601(*options.target)
                           : std::string("target latest"),
        quote_setting(restore_command(options, repository_location)));
    if (options.target) {
        // PostgreSQL's parser for this setting refuses the "T…Z" spelling; give it "YYYY-MM-DD
        // hh:mm:ss+00".
        std::string pg_time = format_iso8601(*options.target);
        pg_time[10] = ' ';
        pg_time.back() = '+';
        settings += "recovery_target_time = " + quote_setting(pg_time + "00") + "\n";
        settings += "recovery_target_inclusive = on\nrecovery_target_action = 'promote'\n";
    }
    if (options.consistent) {
        settings += "recovery_target = 'immediate'\nrecovery_target_action = 'promote'\n";
    }
    settings += "recovery_target_timeline = 'latest'\n";
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
    const std::string base = existing ? *existing : std::string();
    LB_CHECK(write_file_atomic(dir / "postgresql.auto.conf", base + settings));
    return write_file_atomic(dir / "recovery.signal", "");
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
Status start_and_wait(const RestoreOptions& options, const StartPreparation& prepared,
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
        if (options.progress) options.progress({"replaying WAL", 0, 0});
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
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
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    outcome.ready_seconds = seconds_since(promoted);
    return {};
}

}  // namespace

Result<RestoreOutcome> run_restore(const RestoreOptions& options) {
    const auto started = Clock::now();
    repo::Repository repository = LB_TRY(repo::Repository::open(options.repository));
    // Held until the instance is ready (with --start): expire must not remove what this reads.
    const auto lock = LB_TRY(repo::RepositoryLock::shared_for_reading(
        repository.storage(), "restore", std::chrono::seconds(3600),
        report_waiting(options.progress)));
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
    const BackupReach* reach = nullptr;
    if (options.backup_id) {
        for (const auto& b : window.backups) {
            if (b.backup_id == *options.backup_id) reach = &b;
        }
        if (!reach)
            return fail(ErrorCode::not_found, "no backup '{}' in the repository",
                        *options.backup_id);
        if (!reach->consistent) {
            return fail(ErrorCode::outside_window,
                        "backup {} cannot be restored: WAL segment {} it needs is missing",
                        reach->backup_id, reach->first_missing_segment);
        }
        if (options.target &&
            !(reach->from <= *options.target && reach->to && *options.target < *reach->to)) {
            return fail(
                ErrorCode::outside_window, "backup {} cannot reach {}: it covers {} .. {}",
                reach->backup_id, format_iso8601(*options.target), format_iso8601(reach->from),
                reach->to ? format_iso8601(*reach->to) : std::string("(no archived commit yet)"));
        }
    } else if (options.consistent) {
        for (const auto& b : window.backups)
            if (b.consistent) reach = &b;  // the newest consistent one
        if (!reach) return fail(ErrorCode::outside_window, "no backup is consistent yet");
    } else {
        reach = window.best_for(options.target);
        if (!reach && !window.earliest) {
            const BackupReach& newest = window.backups.back();
            return fail(ErrorCode::outside_window,
                        "no backup can be restored yet: the restorable window is empty ({})",
                        !newest.consistent
                            ? "backup " + newest.backup_id + " needs WAL segment " +
                                  newest.first_missing_segment + ", which is not archived"
                            : std::string("no commit has been archived after the newest backup; "
                                          "restore it with --to latest once WAL is archived"));
        }
        if (!reach) {
            return fail(ErrorCode::outside_window, "{} is outside the restorable window ({}){}",
                        options.target ? format_iso8601(*options.target) : std::string("latest"),
                        window.describe(),
                        window.gap
                            ? "; WAL segment " + window.first_missing_segment +
                                  " is missing from the archive, so later times cannot be reached"
                            : std::string());
        }
    }
    // 'latest' means the end of the archive. With a hole in it, PostgreSQL would stop at the hole
    // and promote there, silently short of what the archive holds after it.
    if (!options.target && !options.consistent && reach->gap) {
        return fail(ErrorCode::outside_window,
                    "cannot restore to latest: WAL segment {} is missing from the archive, so "
                    "replay would stop there although later WAL exists; restore to a time before "
                    "it (--to, within {}) or recover the segment",
                    reach->first_missing_segment, window.describe());
    }
    const repo::Manifest* manifest = nullptr;
    for (const auto& m : manifests) {
        if (m.id == reach->backup_id) manifest = &m;
    }
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
    outcome.target = options.target;
    outcome.target_dir = fs::absolute(options.target_dir);
    const bool existed = fs::exists(options.target_dir);
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
                                   .progress = options.progress};
    // restore_command runs in the new data directory: give it an absolute path for a local
    // repository, and the location exactly as given (endpoint and all) for a URL.
    const std::string location_for_commands = options.repository.find("://") != std::string::npos
                                                  ? options.repository
                                                  : repository.location();
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
    auto settings =
        write_recovery_settings(options, outcome.port, *manifest, location_for_commands);
    if (!settings) return undo(settings.error());
    outcome.files_seconds = seconds_since(started);
    if (options.start == StartServer::yes) {
        auto status = start_and_wait(options, *prepared, tablespace_dirs, outcome);
        if (!status) {
            if (!outcome.started) return undo(status.error());
            return std::unexpected(status.error());
        }
    }
    outcome.total_seconds = seconds_since(started);
    return outcome;
}

}  // namespace lifeboat::engine
