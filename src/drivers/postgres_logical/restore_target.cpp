#include "drivers/postgres_logical/restore_target.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "drivers/postgres_logical/chain.hpp"
#include "drivers/postgres_logical/change_apply.hpp"
#include "drivers/postgres_logical/dump_filter.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/wal.hpp"
#include "util/parallel.hpp"

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
    if (m_request.only_table) {
        const std::string& only = *m_request.only_table;
        const auto dot = only.find('.');
        TableName name{dot == std::string::npos ? "public" : only.substr(0, dot),
                       dot == std::string::npos ? only : only.substr(dot + 1)};
        const bool found = std::any_of(
            manifest.logical.tables.begin(), manifest.logical.tables.end(),
            [&](const auto& t) { return t.schema == name.schema && t.name == name.name; });
        if (!found) {
            return fail(ErrorCode::not_found,
                        "backup {} holds no table {}.{} (--only takes SCHEMA.TABLE as the "
                        "source names it, or TABLE in public)",
                        manifest.id, name.schema, name.name);
        }
        m_only = std::move(name);
    }
    if (m_request.target_conninfo) {
        // Loading into a database that already holds tables would mix two sources' rows.
        auto conn = LB_TRY(postgres::Connection::open(*m_request.target_conninfo));
        const std::string tables = LB_TRY(conn.query_value(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN "
            "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"));
        if (tables != "0") {
            return fail(ErrorCode::conflict,
                        "refusing to restore into database {} of --target-pg: it is not empty "
                        "({} tables, views or sequences); give an empty database (nothing was "
                        "written)",
                        conn.database(), tables);
        }
    }
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
    if (plan.port == 0 && !m_request.target_conninfo) {
        return fail(ErrorCode::usage,
                    "a postgres-logical backup is restored by loading it into a server: add "
                    "--start, or --target-pg CONN (nothing was kept)");
    }
    m_manifest = plan.manifest;
    m_plan = plan;
    return std::vector<std::string>{};
}

Status LogicalRestoreTarget::load(const Prepared& prepared, const std::string& conninfo,
                                  const OperationContext& ctx) {
    const repo::PostgresLogicalPayload& payload = m_manifest->logical;
    const fs::path dir = fs::absolute(m_request.target_dir);
    // psql on the target as the server account: `flag` "-f" (a script) or "-c" (a command).
    auto run_psql = [&](std::string_view on_error_stop, std::string_view flag,
                        const std::string& what) {
        return run_process({(prepared.bindir / "psql").string(), "-X", "-q", "-v",
                            fmt::format("ON_ERROR_STOP={}", on_error_stop), "-d", conninfo,
                            std::string(flag), what},
                           {.run_as = prepared.account, .merge_stderr = true});
    };
    auto psql = [&](const std::string& entry) -> Status {
        auto run = LB_TRY(run_psql("1", "-f", (dir / entry).string()));
        if (run.exit_status != 0) {
            return fail(ErrorCode::database, "loading {} into the server failed: {}", entry,
                        last_line(run.output));
        }
        return {};
    };
    auto psql_command = [&](const std::string& command) -> Status {
        auto run = LB_TRY(run_psql("1", "-c", command));
        if (run.exit_status != 0) {
            return fail(ErrorCode::database, "loading a table into the server failed: {}",
                        last_line(run.output));
        }
        return {};
    };
    // A script of statements that may fail one by one (roles the target has already, grants to
    // roles it lacks): every error becomes one warning; the restore goes on.
    auto psql_tolerant = [&](const std::string& entry, std::string_view what) -> Status {
        auto run = LB_TRY(run_psql("0", "-f", (dir / entry).string()));
        if (run.exit_status != 0) {
            return fail(ErrorCode::database, "loading {} into the server failed: {}", entry,
                        last_line(run.output));
        }
        std::size_t errors = 0;
        std::string first;
        for (std::size_t at = run.output.find("ERROR:"); at != std::string::npos;
             at = run.output.find("ERROR:", at + 1)) {
            if (errors++ == 0) {
                const auto end = run.output.find('\n', at);
                first = run.output.substr(at + 7, end == std::string::npos ? end : end - at - 7);
            }
        }
        if (errors > 0) {
            ctx.warn(fmt::format("{}: the target refused {} statement{} (first: {})", what, errors,
                                 errors == 1 ? "" : "s", first));
        }
        return {};
    };
    // A script derived from a stored one, written beside it for the server account to read.
    auto derived = [&](const std::string& entry, const std::string& text) -> Result<std::string> {
        LB_CHECK(write_file_atomic(dir / entry, text));
        if (prepared.account) LB_CHECK(change_owner_recursive(dir / entry, *prepared.account));
        return entry;
    };
    // --only: the scripts cut down to the table (dump_filter.hpp).
    auto cut = [&](const std::string& text, std::string_view suffix) -> std::string {
        if (!m_only) return text;
        return suffix == "sequences" ? guard_missing_sequences(text)
                                     : filter_dump_for_table(text, m_only->schema, m_only->name);
    };
    auto script = [&](const std::string& entry, std::string_view suffix) -> Result<std::string> {
        if (!m_only) return entry;
        return derived(entry + ".only", cut(LB_TRY(read_file(dir / entry)), suffix));
    };
    if (!payload.roles_path.empty()) {
        ctx.report({"creating roles", 0, 0});
        const std::string roles =
            tolerate_existing_roles(LB_TRY(read_file(dir / payload.roles_path)));
        LB_CHECK(psql_tolerant(LB_TRY(derived(payload.roles_path + ".load", roles)), "roles"));
    }
    ctx.report({"loading the schema", 0, 0});
    // Ownership and grants load last (dump_filter.hpp, split_ownership).
    const OwnershipSplit pre_data = split_ownership(LB_TRY(read_file(dir / payload.pre_data_path)));
    LB_CHECK(psql(
        LB_TRY(derived(payload.pre_data_path + ".objects", cut(pre_data.objects, "pre-data")))));
    postgres::Connection conn = LB_TRY(postgres::Connection::open(conninfo));
    std::uint64_t done = 0;
    for (const auto& table : payload.tables) {
        LB_CHECK(ctx.check());
        if (m_only && (table.schema != m_only->schema || table.name != m_only->name)) continue;
        const std::string qualified =
            conn.quote_identifier(table.schema) + "." + conn.quote_identifier(table.name);
        if (m_request.target_conninfo) {
            // Another server cannot read this host's files: psql sends them (\copy).
            LB_CHECK(psql_command("\\copy " + qualified + " FROM " +
                                  conn.quote_literal((dir / table.path).string()) +
                                  " (FORMAT binary)"));
        } else {
            // The server reads the file itself: it runs as the account that owns the target.
            LB_CHECK(conn.execute("COPY " + qualified + " FROM " +
                                  conn.quote_literal((dir / table.path).string()) +
                                  " (FORMAT binary)"));
        }
        ctx.report({"loading tables", ++done, payload.tables.size(), ProgressUnit::items});
    }
    LB_CHECK(psql(LB_TRY(script(payload.sequences_path, "sequences"))));
    ctx.report({"building indexes and constraints", 0, 0});
    LB_CHECK(psql(LB_TRY(script(payload.post_data_path, "post-data"))));
    LB_CHECK(psql_tolerant(
        LB_TRY(derived(payload.pre_data_path + ".ownership", cut(pre_data.ownership, "pre-data"))),
        "ownership and grants"));
    LB_CHECK(apply_log(conninfo, ctx));
    ctx.report({"analyzing", 0, 0});
    LB_CHECK(conn.execute("ANALYZE"));
    // The apply ran with synchronous_commit off; its final commit flushed the WAL. In a new
    // instance a checkpoint also spares a crash the replay of the whole load; an existing
    // server (--target-pg) checkpoints on its own schedule, and its role may not be allowed to.
    if (!m_request.target_conninfo) LB_CHECK(conn.execute("CHECKPOINT"));
    return {};
}

Result<source::StartedInstance> LogicalRestoreTarget::load_into_existing(
    const Prepared& prepared, const OperationContext& ctx) {
    const auto started = Clock::now();
    source::StartedInstance outcome;
    outcome.conninfo = *m_request.target_conninfo;
    LB_CHECK(load(prepared, outcome.conninfo, ctx));
    outcome.replay_seconds = seconds_since(started);
    remove_staged_files();
    // Loaded: what a started instance is for a new one (nothing is left to undo).
    m_started = true;
    return outcome;
}

void LogicalRestoreTarget::remove_staged_files() {
    std::error_code ec;
    fs::remove_all(m_request.target_dir / "schema", ec);
    fs::remove_all(m_request.target_dir / "data", ec);
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
    const ChainRun chain = follow_chain(names, consistent->value);
    if (chain.objects.empty()) return {};
    ApplyRequest request{
        .conninfo = conninfo,
        .objects = chain.objects,
        .fetch = [&storage](const std::string& name) { return repo::fetch_wal(storage, name); },
        .consistent_lsn = consistent->value,
        .target = m_plan.target,
        .only = m_only,
        .connections = m_request.jobs ? m_request.jobs : default_jobs(),
    };
    const ApplyOutcome applied = LB_TRY(apply_changes(request, ctx));
    ctx.report({fmt::format("applied {} transactions ({} rows, {} sequences) in {:.1f} s",
                            applied.transactions, applied.rows, applied.sequences, applied.seconds),
                0, 0});
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
    if (m_request.target_conninfo) return load_into_existing(prepared, ctx);
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
    remove_staged_files();
    auto check = LB_TRY(postgres::Connection::open(outcome.conninfo));
    LB_CHECK(check.execute("SELECT 1"));
    outcome.ready_seconds = seconds_since(loaded);
    return outcome;
}

}  // namespace lifeboat::postgres_logical
