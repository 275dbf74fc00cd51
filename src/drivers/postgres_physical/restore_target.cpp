#include "drivers/postgres_physical/restore_target.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "drivers/postgres_physical/recovery_phases.hpp"
#include "drivers/postgres_physical/replay_memory.hpp"
#include "drivers/postgres_physical/replay_wal_size.hpp"
#include "drivers/postgres_physical/wal_spool.hpp"
#include "drivers/postgres_physical/wal_transfer.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/server_config.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_physical {

namespace {

using Clock = std::chrono::steady_clock;

// How much WAL restore --start fetches ahead while it writes the files (the spool in the new
// pg_wal holds at most this much; replay consumes it).
constexpr std::uint64_t k_restore_prefetch_bytes = std::uint64_t{1} << 30;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

Status refuse_unsafe_target(const source::RestoreRequest& options, const repo::Manifest& manifest) {
    const bool empty = LB_TRY(directory_is_empty_or_missing(options.target_dir));
    std::error_code ec;
    for (const auto& source :
         {std::optional<fs::path>(manifest.postgres.pgdata), options.source_pgdata}) {
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

Result<std::map<std::uint32_t, fs::path>> tablespace_locations(
    const source::RestoreRequest& options, const repo::Manifest& manifest) {
    std::map<std::uint32_t, fs::path> out;
    for (const auto& t : manifest.postgres.tablespaces) {
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

// The command PostgreSQL runs for each WAL file. Its shell, with builtins only, notes the name
// asked for and fails at once for a segment the prefetch spool already put in pg_wal, marked
// archived: PostgreSQL then reads that segment from pg_wal (wal_spool.hpp: starting any process
// per segment cost more than replaying it). Anything else goes to wal-fetch, which replaces the
// shell. PostgreSQL runs the command in the data directory, so pg_wal is named relative to it. An
// encrypted repository's key file travels with it (a passphrase reaches a server started by
// `restore --start` through its environment). Every path is one shell word with % doubled:
// repository and binary paths may hold quotes, spaces, $(…) or %, and none of it may reach the
// shell or PostgreSQL's %-expansion as syntax.
std::string restore_command(const source::RestoreRequest& options,
                            const source::RecoveryPlan& plan) {
    std::string command = fmt::format(
        "{{ echo %f >pg_wal/{}/{}; }} 2>/dev/null; "
        "[ -f pg_wal/%f ] && [ -f pg_wal/archive_status/%f.done ] && exit 1; "
        "exec {} wal-fetch %f %p --repo {}",
        k_spool_name, k_asked_name, postgres::command_word(options.lifeboat_binary.string()),
        postgres::command_word(plan.repository_location));
    if (plan.key_file) {
        command += " --key-file " + postgres::command_word(plan.key_file->string());
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

// The recovery settings of the new instance. The restore owns all of them: a backup of an
// instance that was itself restored carries that restore's target, restore_command and timeline
// in postgresql.auto.conf, and a standby's backup its primary_conninfo. Those lines are
// commented out (visibly, with the reason), and every recovery setting is then written
// explicitly, because postgresql.conf may carry them too and the last setting wins. The empty
// targets come before the one that is set: PostgreSQL refuses a second target type even when
// an empty value follows a set one.
Result<std::vector<std::string>> write_recovery_settings(const source::RestoreRequest& options,
                                                         const source::RecoveryPlan& plan) {
    const fs::path dir = options.target_dir;
    const repo::Manifest& manifest = *plan.manifest;
    LB_CHECK(write_file_atomic(dir / "backup_label", manifest.postgres.backup_label));
    auto quoted = [](std::string_view value, std::string_view what) {
        return postgres::quote_config_value(value, what);
    };
    const std::string command = restore_command(options, plan);
    std::string settings = fmt::format(
        "\n# Added by `lifeboat restore` (backup {}, {}, timeline {}). Lifeboat owns every "
        "recovery setting:\n# any the backup carried are commented out above and set here.\n",
        manifest.id,
        plan.consistent ? std::string("target consistent")
        : plan.target   ? "target " + format_iso8601(*plan.target)
                        : std::string("target latest"),
        plan.timeline);
    settings += "restore_command = " +
                LB_TRY(quoted(command,
                              "restore_command (built from the lifeboat binary and "
                              "repository paths)")) +
                "\n";
    settings +=
        "recovery_end_command = ''\narchive_cleanup_command = ''\nprimary_conninfo = ''\n"
        "primary_slot_name = ''\nrecovery_min_apply_delay = 0\npromote_trigger_file = ''\n";
    std::string target_setting;
    if (plan.stop_position) {
        target_setting =
            "recovery_target_lsn = " + LB_TRY(quoted(*plan.stop_position, "the target position")) +
            "\n";
    } else if (plan.target) {
        target_setting = "recovery_target_time = " +
                         LB_TRY(quoted(postgres_time(*plan.target), "the target time")) + "\n";
    } else if (plan.consistent) {
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
    settings += fmt::format("recovery_target_timeline = '{}'\n", plan.timeline);
    if (options.archiving == source::NewInstanceArchiving::off) {
        settings += "archive_mode = 'off'\n";
    }
    if (plan.port != 0) settings += fmt::format("port = {}\n", plan.port);
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

Result<StartPreparation> find_start_needs(const source::RestoreRequest& options,
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

}  // namespace

Result<std::map<std::uint32_t, fs::path>> PhysicalRestoreTarget::check_and_place(
    const repo::Manifest& manifest) {
    if (m_request.target_conninfo || m_request.only_table) {
        return fail(ErrorCode::usage,
                    "--target-pg and --only restore a postgres-logical backup; backup {} is a "
                    "physical one (restored whole, as a new data directory)",
                    manifest.id);
    }
    LB_CHECK(refuse_unsafe_target(m_request, manifest));
    m_tablespace_dirs = LB_TRY(tablespace_locations(m_request, manifest));
    return m_tablespace_dirs;
}

Result<double> PhysicalRestoreTarget::prepare_start(const std::string& repository_location) {
    m_prepared = LB_TRY(find_start_needs(m_request, repository_location));
    return m_prepared->seconds;
}

std::uint64_t PhysicalRestoreTarget::prefetch_log(const source::RecoveryPlan& plan,
                                                  const std::atomic<bool>& stop) {
    const repo::Manifest& manifest = *plan.manifest;
    // Only the backup's own timeline: a branch to a later one switches names part-way, and
    // wal-fetch's own prefetch follows it.
    if (!plan.log_storage || plan.timeline != manifest.timeline) return 0;
    const std::uint64_t segment_size = manifest.postgres.wal_segment_size;
    const auto start = postgres::parse_lsn(manifest.start_lsn);
    if (!start || !postgres::is_valid_wal_segment_size(segment_size)) return 0;
    SpoolFill fill{.data_dir = m_request.target_dir,
                   .first = postgres::segment_of(*start, manifest.timeline, segment_size),
                   .segment_size = segment_size,
                   .count = static_cast<unsigned>(k_restore_prefetch_bytes / segment_size),
                   .until = plan.target};
    const auto last_position = plan.consistent      ? postgres::parse_lsn(manifest.stop_lsn)
                               : plan.stop_position ? postgres::parse_lsn(*plan.stop_position)
                                                    : std::nullopt;
    if (last_position)
        fill.last = postgres::segment_of(*last_position, plan.timeline, segment_size);
    if (auto owner = postgres::server_account(m_request.target_dir, m_request.run_as_user))
        fill.owner = *owner;
    return fill_prefetch_spool(*plan.log_storage, fill, stop);
}

namespace {

// The replay-only lines of a restored instance's postgresql.auto.conf (replay_wal_size.hpp):
// end() removes them and has the running instance reload its configuration; destroyed before
// that (the start failed), it removes them from the file alone, so that the instance, kept for
// diagnosis and started by hand, runs as the source was configured.
class ReplayOnlySettings {
  public:
    ReplayOnlySettings(fs::path data_dir, std::optional<UserAccount> account, bool written)
        : m_data_dir(std::move(data_dir)), m_account(std::move(account)), m_written(written) {}
    ReplayOnlySettings(const ReplayOnlySettings&) = delete;
    ReplayOnlySettings& operator=(const ReplayOnlySettings&) = delete;
    ~ReplayOnlySettings() {
        if (m_written) (void)remove();
    }

    Status end(postgres::Connection& conn) {
        if (!m_written) return {};
        LB_CHECK(remove());
        m_written = false;
        auto reloaded = conn.query_value("SELECT pg_reload_conf()");
        if (!reloaded) {
            return fail(ErrorCode::database,
                        "the restored server did not reload its configuration after the replay "
                        "(max_wal_size stays raised until it does): {}",
                        reloaded.error().message);
        }
        return {};
    }

  private:
    Status remove() {
        LB_CHECK(remove_replay_only_settings(m_data_dir));
        // Rewritten by this process: the server's account must still own it.
        if (m_account)
            LB_CHECK(change_owner_recursive(m_data_dir / "postgresql.auto.conf", *m_account));
        return {};
    }

    fs::path m_data_dir;
    std::optional<UserAccount> m_account;
    bool m_written;
};

}  // namespace

Result<std::vector<std::string>> PhysicalRestoreTarget::configure(
    const source::RecoveryPlan& plan) {
    // With a target, the restore promotes the instance itself once it pauses there (see
    // recovery_phases.hpp); 'latest' ends where the archive ends, which only the server sees.
    m_recovery_end = plan.target || plan.stop_position || plan.consistent
                         ? RecoveryEnd::promote_at_target
                         : RecoveryEnd::server_ends_it;
    std::uint64_t data_bytes = 0;
    for (const auto& entry : plan.manifest->entries)
        data_bytes += entry.size;
    m_replay_buffers =
        replay_buffers_for(m_request.replay_memory, m_request.target_dir, data_bytes);
    return write_recovery_settings(m_request, plan);
}

// Starts the restored instance and waits for the end of recovery and a read-write connection.
Result<source::StartedInstance> PhysicalRestoreTarget::start_and_await(
    int port, const OperationContext& ctx) {
    const source::RestoreRequest& options = m_request;
    if (!m_prepared) return fail(ErrorCode::internal, "start_and_await before prepare_start");
    const StartPreparation& prepared = *m_prepared;
    const std::map<std::uint32_t, fs::path>& tablespace_dirs = m_tablespace_dirs;
    source::StartedInstance outcome;
    const auto& account = prepared.account;
    // max_wal_size for the replay alone (replay_wal_size.hpp): a line of postgresql.auto.conf
    // that is removed once the instance is read-write, or when this start fails. Only when the
    // restore promotes at the target: a server that ends recovery itself waits for an immediate
    // checkpoint, which would then write every page the replay dirtied, none of it earlier.
    const std::uint64_t replay_wal_size =
        m_recovery_end == RecoveryEnd::promote_at_target
            ? replay_max_wal_size_for(options.target_dir).value_or(0)
            : 0;
    if (replay_wal_size != 0) {
        LB_CHECK(add_replay_only_setting(options.target_dir, "max_wal_size",
                                         fmt::format("{}MB", replay_wal_size >> 20)));
    }
    ReplayOnlySettings replay_only(options.target_dir, account, replay_wal_size != 0);
    if (account) {
        LB_CHECK(change_owner_recursive(options.target_dir, *account));
        for (const auto& [oid, dir] : tablespace_dirs)
            LB_CHECK(change_owner_recursive(dir, *account));
    }
    postgres::LocalServer server(prepared.bindir, options.target_dir, account);
    const fs::path log = options.target_dir / "lifeboat-restore.log";
    const std::string user = account ? account->name : LB_TRY(user_name_of(::geteuid()));
    const auto started = Clock::now();
    LB_CHECK(server.start(
        log, fmt::format("-p {}", port) + run_only_settings(m_recovery_end, m_replay_buffers)));
    outcome.replay_memory_bytes = m_replay_buffers.value_or(0);
    outcome.replay_max_wal_size_bytes = replay_wal_size;
    m_started = true;
    const auto deadline = started + options.start_timeout;
    RecoveryLogWatch watch(log);
    // Phase 1: recovery (WAL replay). With a target, the promotion is requested as soon as the
    // instance accepts connections (hot standby, once consistent): it takes effect when the
    // instance pauses at the target. Either way recovery is over when PostgreSQL has removed
    // recovery.signal and reports itself ready for normal operation.
    bool promotion_requested = m_recovery_end != RecoveryEnd::promote_at_target;
    for (unsigned round = 0;; ++round) {
        watch.poll();
        auto status = LB_TRY(server.status());
        std::error_code ec;
        const bool recovering = fs::exists(options.target_dir / "recovery.signal", ec);
        if (status && status->state == "ready" && !recovering) break;
        // Each try is a new backend: every 200 ms is often enough.
        if (!promotion_requested && status && recovering &&
            (status->state == "ready" || status->state == "standby") && round % 4 == 0) {
            if (auto conn = postgres::Connection::open(postgres::conninfo_for(*status, user))) {
                auto requested = request_promotion(*conn);
                if (!requested) {
                    return fail(ErrorCode::database,
                                "could not ask the restored server to promote at its target: {} "
                                "(server log: {})",
                                requested.error().message, log.string());
                }
                promotion_requested = true;
            }
        }
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
    const auto recovered = Clock::now();
    watch.poll();
    outcome.replay_seconds = seconds_since(started);
    // Phases, as far as the log shows them (poll granularity: 50 ms).
    auto between = [](Clock::time_point a, Clock::time_point b) {
        return std::max(0.0, std::chrono::duration<double>(b - a).count());
    };
    const auto redo_end = watch.paused() ? watch.paused() : watch.redo_done();
    if (watch.redo_started()) {
        outcome.phases.startup_seconds = between(started, *watch.redo_started());
        if (redo_end) outcome.phases.redo_seconds = between(*watch.redo_started(), *redo_end);
    }
    if (redo_end) outcome.phases.end_of_recovery_seconds = between(*redo_end, recovered);
    outcome.phases.end_of_recovery = m_recovery_end == RecoveryEnd::promote_at_target
                                         ? "promoted at the target (pg_promote)"
                                         : "ended by the server (end-of-recovery checkpoint)";
    LB_CHECK(retire_prefetch(options.target_dir, std::chrono::seconds(30), ctx));
    // Phase 2: a connection that can write.
    const auto promoted = Clock::now();
    auto status = LB_TRY(server.status());
    if (!status)
        return fail(ErrorCode::database, "the restored server stopped (see {})", log.string());
    outcome.conninfo = postgres::conninfo_for(*status, user);
    for (;;) {
        auto conn = postgres::Connection::open(outcome.conninfo);
        if (conn) {
            auto writable = conn->query_value(
                "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = "
                "'off'");
            if (writable && *writable == "t") {
                LB_CHECK(replay_only.end(*conn));
                break;
            }
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
    return outcome;
}

}  // namespace lifeboat::postgres_physical
