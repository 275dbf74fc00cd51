#include "drivers/postgres_logical/restore_target.hpp"

#include <unistd.h>

#include <chrono>

#include "drivers/postgres_logical/change_apply.hpp"
#include "drivers/postgres_logical/change_chain.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_logical {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// The last non-empty line of a program's output: psql and initdb put the reason there.
std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (auto nl = text.rfind('\n'); nl != std::string::npos) text.erase(0, nl + 1);
    return text;
}

}  // namespace

Result<std::map<std::uint32_t, fs::path>> LogicalRestoreTarget::check_and_place(
    const repo::Manifest& manifest) {
    if (!LB_TRY(directory_is_empty_or_missing(m_request.target_dir))) {
        return fail(ErrorCode::conflict,
                    "refusing to restore into {}: the directory is not empty (restore always "
                    "creates a new instance)",
                    m_request.target_dir.string());
    }
    m_manifest = &manifest;
    return std::map<std::uint32_t, fs::path>{};
}

Result<double> LogicalRestoreTarget::prepare_start(const std::string&) {
    const auto started = Clock::now();
    Prepared prepared;
    prepared.bindir = LB_TRY(postgres::find_server_bindir(m_request.pg_bin));
    prepared.account =
        LB_TRY(postgres::server_account(m_request.target_dir, m_request.run_as_user));
    m_prepared = std::move(prepared);
    return seconds_since(started);
}

Result<std::vector<std::string>> LogicalRestoreTarget::configure(const source::RecoveryPlan& plan) {
    if (plan.port == 0) {
        return fail(ErrorCode::usage,
                    "a postgres-logical backup is restored by loading it into a new server: add "
                    "--start (nothing was kept)");
    }
    m_manifest = plan.manifest;
    m_plan = plan;
    return std::vector<std::string>{};
}

Status LogicalRestoreTarget::load(const Prepared& prepared, const std::string& conninfo,
                                  const OperationContext& ctx) {
    const repo::PostgresLogicalPayload& payload = m_manifest->logical;
    const fs::path dir = fs::absolute(m_request.target_dir);
    auto psql = [&](const std::string& entry) -> Status {
        auto run =
            LB_TRY(run_process({(prepared.bindir / "psql").string(), "-X", "-q", "-v",
                                "ON_ERROR_STOP=1", "-d", conninfo, "-f", (dir / entry).string()},
                               {.run_as = prepared.account, .merge_stderr = true}));
        if (run.exit_status != 0) {
            return fail(ErrorCode::database, "loading {} into the new server failed: {}", entry,
                        last_line(run.output));
        }
        return {};
    };
    ctx.report({"loading the schema", 0, 0});
    LB_CHECK(psql(payload.pre_data_path));
    postgres::Connection conn = LB_TRY(postgres::Connection::open(conninfo));
    std::uint64_t done = 0;
    for (const auto& table : payload.tables) {
        LB_CHECK(ctx.check());
        const std::string qualified =
            conn.quote_identifier(table.schema) + "." + conn.quote_identifier(table.name);
        // The server reads the file itself: it runs as the account that owns the target.
        LB_CHECK(conn.execute("COPY " + qualified + " FROM " +
                              conn.quote_literal((dir / table.path).string()) +
                              " (FORMAT binary)"));
        ctx.report({"loading tables", ++done, payload.tables.size(), ProgressUnit::items});
    }
    LB_CHECK(psql(payload.sequences_path));
    ctx.report({"building indexes and constraints", 0, 0});
    LB_CHECK(psql(payload.post_data_path));
    LB_CHECK(apply_log(conninfo, ctx));
    ctx.report({"analyzing", 0, 0});
    LB_CHECK(conn.execute("ANALYZE"));
    // The apply ran with synchronous_commit off; its final commit flushed the WAL, and a
    // checkpoint makes the instance start without replaying the whole load after a crash.
    LB_CHECK(conn.execute("CHECKPOINT"));
    return {};
}

Status LogicalRestoreTarget::apply_log(const std::string& conninfo, const OperationContext& ctx) {
    // `consistent`: the base alone. Otherwise the changes after it, up to the target.
    if (m_plan.consistent || !m_plan.log_storage) return {};
    const auto consistent = postgres::parse_lsn(m_manifest->start_lsn);
    if (!consistent) {
        return fail(ErrorCode::corrupt, "backup {}: its consistent point {} is no LSN",
                    m_manifest->id, m_manifest->start_lsn);
    }
    const Storage& storage = *m_plan.log_storage;
    const auto names = LB_TRY(repo::list_wal_names(storage));
    const ChangeChain chain = change_chain(names, consistent->value);
    if (chain.objects.empty()) return {};
    ApplyRequest request{
        .conninfo = conninfo,
        .objects = chain.objects,
        .fetch = [&storage](const std::string& name) { return repo::fetch_wal(storage, name); },
        .consistent_lsn = consistent->value,
        .target = m_plan.target,
        .only = std::nullopt,
    };
    const ApplyOutcome applied = LB_TRY(apply_changes(request, ctx));
    m_applied = applied;
    return {};
}

Result<source::StartedInstance> LogicalRestoreTarget::start_and_await(int port,
                                                                      const OperationContext& ctx) {
    if (!m_prepared || !m_manifest) {
        return fail(ErrorCode::internal, "start_and_await before prepare_start and configure");
    }
    const Prepared& prepared = *m_prepared;
    const fs::path pgdata = m_request.target_dir / k_pgdata_subdirectory;
    if (prepared.account) LB_CHECK(change_owner_recursive(m_request.target_dir, *prepared.account));
    postgres::LocalServer server(prepared.bindir, pgdata, prepared.account);
    const auto started = Clock::now();
    LB_CHECK(server.initdb(postgres::LocalServer::Checksums::on));
    const fs::path log = m_request.target_dir / "lifeboat-restore.log";
    LB_CHECK(server.start(log, fmt::format("-p {}", port)));
    m_started = true;
    const auto launched = Clock::now();
    const auto deadline = started + m_request.start_timeout;
    std::optional<postgres::PostmasterStatus> status;
    for (;;) {
        status = LB_TRY(server.status());
        if (status && status->state == "ready") break;
        if (!server.is_running() && seconds_since(launched) > 1.0) {
            return fail(ErrorCode::database,
                        "the new server stopped while starting (server log: {}; the directory is "
                        "kept for diagnosis)",
                        log.string());
        }
        if (Clock::now() > deadline) {
            return fail(ErrorCode::database, "the new server did not start within {} s (see {})",
                        m_request.start_timeout.count(), log.string());
        }
        LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(50)));
    }
    const std::string user =
        prepared.account ? prepared.account->name : LB_TRY(user_name_of(::geteuid()));
    const std::string database = m_manifest->logical.database;
    {
        // The instance may still refuse connections for a moment after "ready".
        std::optional<postgres::Connection> admin;
        while (!admin) {
            auto conn = postgres::Connection::open(postgres::conninfo_for(*status, user));
            if (conn) {
                admin.emplace(std::move(*conn));
            } else if (Clock::now() > deadline) {
                return std::unexpected(conn.error());
            } else {
                LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(50)));
            }
        }
        if (database != "postgres") {
            LB_CHECK(admin->execute("CREATE DATABASE " + admin->quote_identifier(database)));
        }
    }
    source::StartedInstance outcome;
    outcome.conninfo = postgres::conninfo_for(*status, user, database);
    LB_CHECK(load(prepared, outcome.conninfo, ctx));
    outcome.replay_seconds = seconds_since(started);
    const auto loaded = Clock::now();
    // The dump files served their purpose: the instance holds the data now.
    std::error_code ec;
    fs::remove_all(m_request.target_dir / "schema", ec);
    fs::remove_all(m_request.target_dir / "data", ec);
    auto check = LB_TRY(postgres::Connection::open(outcome.conninfo));
    LB_CHECK(check.execute("SELECT 1"));
    outcome.ready_seconds = seconds_since(loaded);
    return outcome;
}

}  // namespace lifeboat::postgres_logical
