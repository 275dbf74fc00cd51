#include "cli/demo.hpp"

#include <grp.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "drivers/postgres_physical/validate.hpp"
#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/restore.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/cluster.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/server_config.hpp"
#include "util/net.hpp"

namespace lifeboat::cli {

using namespace engine;

namespace {

// PostgreSQL will not run as root; as root the whole demo becomes the server's account.
Status drop_privileges_if_root(const std::string& user, const fs::path& dir) {
    if (::geteuid() != 0) return {};
    const UserAccount account = LB_TRY(lookup_user(user));
    LB_CHECK(change_owner_recursive(dir, account));
    if (::setgroups(0, nullptr) != 0 || ::setgid(account.gid) != 0 || ::setuid(account.uid) != 0) {
        return fail(ErrorCode::io, "cannot switch to user {}: {}", user, errno_text(errno));
    }
    return {};
}

Result<postgres::Connection> wait_for_connection(const std::string& conninfo, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (;;) {
        auto conn = postgres::Connection::open(conninfo);
        if (conn || std::chrono::steady_clock::now() > deadline) return conn;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// Stops a server when the demo leaves, however it leaves.
struct ServerGuard {
    postgres::LocalServer* server = nullptr;
    ~ServerGuard() {
        if (server) (void)server->stop(postgres::LocalServer::StopMode::fast);
    }
};

Result<std::int64_t> count_orders(postgres::Connection& conn) {
    return std::stoll(LB_TRY(conn.query_value("SELECT count(*) FROM orders")));
}

Status wait_until_archived(postgres::Connection& conn, const std::string& wal_name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        const std::string last = LB_TRY(
            conn.query_value("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"));
        if (!last.empty() && last >= wal_name) return {};
        if (std::chrono::steady_clock::now() > deadline) {
            return fail(ErrorCode::database, "WAL {} was not archived within 60 s", wal_name);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace

Result<DemoReport> run_demo(const DemoOptions& options, const OperationContext& ctx) {
    auto say = [&](const std::string& line) {
        if (options.say) options.say(line);
    };
    const fs::path bindir = LB_TRY(postgres::find_server_bindir(options.pg_bin));
    const char* tmp_env = std::getenv("TMPDIR");
    TempDirectory tmp = LB_TRY(TempDirectory::create(tmp_env ? tmp_env : "/tmp", "lifeboat-demo-"));
    if (options.keep) tmp.keep();
    DemoReport report;
    report.directory = tmp.path();
    const fs::path binary = tmp.path() / "bin" / "lifeboat";
    LB_CHECK(ensure_directory(binary.parent_path()));
    std::error_code ec;
    fs::copy_file(options.lifeboat_binary, binary, ec);
    if (ec)
        return fail(ErrorCode::io, "cannot copy {}: {}", options.lifeboat_binary.string(),
                    ec.message());
    LB_CHECK(drop_privileges_if_root(options.run_as_user, tmp.path()));

    const fs::path source_dir = tmp.path() / "source";
    const fs::path repo_dir = tmp.path() / "repository";
    const fs::path restored_dir = tmp.path() / "restored";
    const int source_port = LB_TRY(free_local_port());
    const int restored_port = LB_TRY(free_local_port());

    say(fmt::format("creating a PostgreSQL 15 cluster with data checksums in {}",
                    source_dir.string()));
    postgres::LocalServer source(bindir, source_dir, std::nullopt);
    LB_CHECK(source.initdb(postgres::LocalServer::Checksums::on));
    repo::RepositoryConfig config;
    config.created = ctx.now();
    repo::Repository repository = LB_TRY(repo::Repository::init(repo_dir.string(), config));
    // Paths quoted for the shell and %-expansion, then for the configuration file: the binary
    // or the temporary directory may hold quotes, spaces or %.
    const std::string archive_command =
        fmt::format("{} wal-push %p --repo {}", postgres::command_word(binary.string()),
                    postgres::command_word(repo_dir.string()));
    std::string settings = fmt::format(
        "\nlisten_addresses = ''\nunix_socket_directories = {}\nport = {}\n"
        "archive_mode = on\narchive_command = {}\nwal_level = replica\n",
        LB_TRY(postgres::quote_config_value(tmp.path().string(), "the demo's directory")),
        source_port, LB_TRY(postgres::quote_config_value(archive_command, "archive_command")));
    const std::string conf = LB_TRY(read_file(source_dir / "postgresql.conf"));
    LB_CHECK(write_file_atomic(source_dir / "postgresql.conf", conf + settings));
    LB_CHECK(source.start(tmp.path() / "source.log", ""));
    ServerGuard source_guard{&source};
    const std::string user = LB_TRY(user_name_of(::geteuid()));
    const std::string source_conninfo = fmt::format("host='{}' port={} user='{}' dbname=postgres",
                                                    tmp.path().string(), source_port, user);
    postgres::Connection conn = LB_TRY(wait_for_connection(source_conninfo, 60));

    say("loading 1,000 customers and 20,000 orders");
    LB_CHECK(conn.execute(
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT clock_timestamp());"
        "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES "
        "customers(id), "
        "amount numeric(10,2) NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp());"
        "CREATE INDEX orders_customer ON orders(customer_id);"
        "INSERT INTO customers(name) SELECT 'customer ' || g FROM generate_series(1, 1000) g;"
        "INSERT INTO orders(customer_id, amount) SELECT 1 + g % 1000, (g % 500) + 0.99 "
        "FROM generate_series(1, 20000) g;"));

    say("backing up");
    BackupOptions backup;
    backup.conninfo = source_conninfo;
    backup.jobs = options.jobs;
    backup.tags = {{"purpose", "demo"}};
    const BackupOutcome backed_up = LB_TRY(run_backup(repository, backup, ctx));
    report.backup_id = backed_up.manifest.id;
    report.backup_data_bytes = backed_up.manifest.stats.data_bytes;
    report.backup_stored_bytes = backed_up.manifest.stats.stored_bytes;
    report.backup_seconds = backed_up.manifest.stats.duration_seconds;

    say("writing more: 5,000 orders, then noting the time, then 5,000 more");
    LB_CHECK(
        conn.execute("INSERT INTO orders(customer_id, amount) SELECT 1 + g % 1000, 9.99 "
                     "FROM generate_series(1, 5000) g"));
    report.rows_at_target = LB_TRY(count_orders(conn));
    LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(200)));
    report.target = LB_TRY(postgres::server_now(conn));
    LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(200)));
    LB_CHECK(
        conn.execute("INSERT INTO orders(customer_id, amount) SELECT 1 + g % 1000, 19.99 "
                     "FROM generate_series(1, 5000) g"));
    report.rows_at_end = LB_TRY(count_orders(conn));
    const std::string switched =
        LB_TRY(conn.query_value("SELECT pg_walfile_name(pg_switch_wal())"));
    LB_CHECK(wait_until_archived(conn, switched));
    const Catalog catalog = LB_TRY(load_catalog(repository));
    report.window = catalog.window.describe();

    say(fmt::format("restoring to {} into a new instance on port {}", format_iso8601(report.target),
                    restored_port));
    RestoreOptions restore;
    restore.target = report.target;
    restore.target_dir = restored_dir;
    restore.port = restored_port;
    restore.start = StartServer::yes;
    restore.lifeboat_binary = binary;
    restore.pg_bin = bindir;
    restore.jobs = options.jobs;
    postgres::LocalServer restored(bindir, restored_dir, std::nullopt);
    ServerGuard restored_guard{&restored};
    const RestoreOutcome outcome = LB_TRY(run_restore(repository, restore, ctx));
    report.files_seconds = outcome.files_seconds;
    report.replay_seconds = outcome.replay_seconds;
    report.ready_seconds = outcome.ready_seconds;
    report.total_seconds = outcome.total_seconds;

    say("validating the restored instance");
    const fs::path checks = tmp.path() / "checks.toml";
    LB_CHECK(write_file_atomic(
        checks,
        fmt::format("[[check]]\nname = \"orders committed before the target are all there\"\n"
                    "sql = \"SELECT count(*) FROM orders\"\nexpect = \"= {}\"\n\n"
                    "[[check]]\nname = \"no order is newer than the target\"\n"
                    "sql = \"SELECT max(created_at) FROM orders\"\nexpect = \"<= target\"\n\n"
                    "[[check]]\nname = \"customers are all there\"\n"
                    "sql = \"SELECT count(*) FROM customers\"\nexpect = \"= 1000\"\n",
                    report.rows_at_target)));
    source::ValidateOptions validate;
    validate.conninfo = outcome.conninfo;
    validate.checks_file = checks;
    validate.target = report.target;
    const source::ValidationReport validation = LB_TRY(postgres_physical::run_validation(validate));
    report.validation_passed = validation.passed();
    report.validation_text = validation.to_text();
    return report;
}

}  // namespace lifeboat::cli
