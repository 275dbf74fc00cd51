#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "drivers/postgres_physical/validate.hpp"
#include "drivers/postgres_physical/validate_checks.hpp"
#include "sources/postgres/connection.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;

namespace {

const CheckOutcome* find_check(const ValidationReport& report, std::string_view kind,
                               std::string_view name_part) {
    for (const auto& c : report.checks) {
        if (c.kind == kind && c.name.find(name_part) != std::string::npos) return &c;
    }
    return nullptr;
}

std::size_t failed_count(const ValidationReport& report) {
    return static_cast<std::size_t>(std::count_if(report.checks.begin(), report.checks.end(),
                                                  [](const auto& c) { return !c.passed; }));
}

}  // namespace

// ---- Pure parts -------------------------------------------------------------------------------

TEST(ValidateExpectation, ParsesOperatorsAndOperands) {
    auto e = parse_expectation("  >=  10.5 ");
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->op, Expectation::Op::ge);
    EXPECT_EQ(e->operand, Expectation::Operand::number);
    EXPECT_EQ(e->number, 10.5L);

    e = parse_expectation("= 'it''s'");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->operand, Expectation::Operand::text);
    EXPECT_EQ(e->text, "it's");

    e = parse_expectation("<= TARGET");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->op, Expectation::Op::le);
    EXPECT_EQ(e->operand, Expectation::Operand::target);

    e = parse_expectation("IS  NOT null");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->op, Expectation::Op::is_not_null);
    e = parse_expectation("<> true");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->op, Expectation::Op::ne);
    EXPECT_EQ(e->operand, Expectation::Operand::boolean);

    for (const char* bad :
         {"", "0", "> ", "~ 3", "> abc", "= 'open", "= 'a' 'b'", "> true", "is nul"}) {
        auto b = parse_expectation(bad);
        ASSERT_FALSE(b) << bad;
        EXPECT_EQ(b.error().code, ErrorCode::config);
    }
}

TEST(ValidateExpectation, EvaluatesValues) {
    auto check = [](const char* expect, std::optional<std::string> value) {
        auto e = parse_expectation(expect);
        EXPECT_TRUE(e) << expect;
        return evaluate_expectation(*e, value);
    };
    EXPECT_TRUE(check("> 0", "3").passed);
    EXPECT_FALSE(check("> 0", "0").passed);
    EXPECT_TRUE(check("= 100", "100.000").passed);  // numeric, not textual
    EXPECT_TRUE(check("< 1e3", "999.5").passed);
    EXPECT_TRUE(check("!= 5", "4").passed);
    EXPECT_TRUE(check("= 9007199254740993", "9007199254740993").passed);
    EXPECT_FALSE(check("= 9007199254740993", "9007199254740992").passed);

    Verdict null = check("> 0", std::nullopt);
    EXPECT_FALSE(null.passed);
    EXPECT_NE(null.detail.find("query returned NULL"), std::string::npos);
    EXPECT_TRUE(check("is null", std::nullopt).passed);
    EXPECT_FALSE(check("is null", "1").passed);
    EXPECT_TRUE(check("is not null", "").passed);

    Verdict text = check("> 0", "abc");
    EXPECT_FALSE(text.passed);
    EXPECT_NE(text.detail.find("not a number"), std::string::npos);
    EXPECT_TRUE(check("= 'ok'", "ok").passed);
    EXPECT_FALSE(check("= 'ok'", "OK").passed);
    EXPECT_TRUE(check("= true", "t").passed);
    EXPECT_FALSE(check("= false", "t").passed);
}

TEST(ValidateChecksFile, ParsesChecks) {
    auto checks = parse_user_checks(R"(
[[check]]
name = "users exist"
sql = "SELECT count(*) FROM users"
expect = "> 0"

[[check]]
name = "recent"
sql = "SELECT max(created_at) FROM orders"
expect = "<= target"
database = "app"
)",
                                    "checks.toml");
    ASSERT_TRUE(checks) << checks.error().message;
    ASSERT_EQ(checks->size(), 2u);
    EXPECT_EQ((*checks)[0].name, "users exist");
    EXPECT_EQ((*checks)[0].line, 2);
    EXPECT_FALSE((*checks)[0].database);
    EXPECT_EQ((*checks)[1].expect.operand, Expectation::Operand::target);
    EXPECT_EQ((*checks)[1].database, "app");
    EXPECT_EQ((*checks)[1].line, 7);

    auto empty = parse_user_checks("", "empty.toml");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

TEST(ValidateChecksFile, ErrorsNameFileAndLine) {
    auto expect_error = [](const char* text, const char* fragment) {
        auto r = parse_user_checks(text, "/etc/lb/checks.toml");
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().code, ErrorCode::config);
        EXPECT_NE(r.error().message.find("/etc/lb/checks.toml line"), std::string::npos)
            << r.error().message;
        EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
    };
    // TOML syntax error on line 3.
    expect_error("[[check]]\nname = \"a\"\nsql = SELECT\n", "line 3");
    // Bad expectation: reported at the expect line.
    expect_error("[[check]]\nname = \"a\"\nsql = \"SELECT 1\"\nexpect = \"~ 1\"\n", "line 4");
    expect_error("[[check]]\nname = \"a\"\nsql = \"SELECT 1\"\nexpected = \"> 1\"\n",
                 "unknown key 'expected'");
    expect_error("[[check]]\nname = \"a\"\nsql = \"SELECT 1\"\n", "without 'expect'");
    expect_error("[[checks]]\nname = \"a\"\n", "unknown key 'checks'");
    expect_error("[[check]]\nname = 3\n", "'name' must be a string");

    auto missing = load_user_checks("/nonexistent/checks.toml");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::config);
}

TEST(ValidateChecksFile, ParsesPointInTimeChecks) {
    auto checks = parse_user_checks(R"(
[[point_in_time]]
table = "app.orders"
column = "created_at"
within = "90s"
database = "shop"

[[point_in_time]]
table = "ticks"
column = "at"
)",
                                    "pit.toml");
    ASSERT_TRUE(checks) << checks.error().message;
    ASSERT_EQ(checks->size(), 2u);
    const auto& first = (*checks)[0];
    ASSERT_TRUE(first.point_in_time);
    EXPECT_EQ(first.name, "app.orders.created_at");
    EXPECT_EQ(first.point_in_time->within, std::chrono::seconds(90));
    EXPECT_EQ(first.database, "shop");
    EXPECT_TRUE(first.needs_target());
    EXPECT_EQ((*checks)[1].point_in_time->within, std::chrono::seconds(300));

    for (const char* bad : {"[[point_in_time]]\ntable = \"t\"\n",
                            "[[point_in_time]]\ntable = \"t\"\ncolumn = \"c\"\nwithin = \"soon\"\n",
                            "[[point_in_time]]\ntable = \"t\"\ncolumn = \"c\"\nexpect = \"> 1\"\n",
                            "point_in_time = 3\n"}) {
        auto r = parse_user_checks(bad, "pit.toml");
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code, ErrorCode::config) << bad;
        }
    }
}

TEST(ValidateBaseline, JsonRoundTrip) {
    ValidationReport report;
    report.tables = {{"app", "public", "users", 42}, {"app", "sales", "orders \"x\"", 0}};
    report.checks = {{"connect", "app", true, "PostgreSQL 15.4", false, "app"},
                     {"foreign_key", "app:public.orders.fk", false, "2 orphans", false, "app"}};
    EXPECT_FALSE(report.passed());
    EXPECT_TRUE(report.to_json().starts_with("{\n  \"passed\": false,\n  \"databases\": ["))
        << report.to_json();
    const auto json = nlohmann::json::parse(report.to_json());
    ASSERT_EQ(json.at("databases").size(), 1u);
    EXPECT_EQ(json.at("databases")[0].at("name"), "app");
    EXPECT_EQ(json.at("databases")[0].at("passed"), false);
    EXPECT_EQ(json.at("databases")[0].at("tables"), 2);
    EXPECT_EQ(json.at("databases")[0].at("checks").at("foreign_key").at("failed"), 1);
    EXPECT_EQ(json.at("checks")[1].at("database"), "app");
    auto tables = parse_baseline(report.to_json(), "baseline.json");
    ASSERT_TRUE(tables) << tables.error().message;
    ASSERT_EQ(tables->size(), 2u);
    EXPECT_EQ((*tables)[1].table, "orders \"x\"");
    EXPECT_EQ((*tables)[0].rows, 42);

    auto bad = parse_baseline("{\n  \"tables\": [\n    {\"rows\": }\n  ]\n}", "b.json");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::config);
    EXPECT_NE(bad.error().message.find("b.json line 3"), std::string::npos) << bad.error().message;
    auto shape =
        parse_baseline(R"({"tables":[{"database":"a","schema":"s","table":"t"}]})", "b.json");
    ASSERT_FALSE(shape);
    EXPECT_NE(shape.error().message.find("tables[0]"), std::string::npos);
    EXPECT_FALSE(parse_baseline("[]", "b.json"));
}

TEST(ValidateBaseline, Compares) {
    std::vector<TableCount> baseline{{"app", "public", "a", 1},
                                     {"app", "public", "b", 2},
                                     {"app", "public", "gone", 3},
                                     {"other", "public", "x", 4}};
    std::vector<TableCount> now{
        {"app", "public", "a", 1}, {"app", "public", "b", 5}, {"app", "public", "fresh", 6}};
    auto outcomes = compare_with_baseline(baseline, now, {"app"});
    ValidationReport report;
    report.checks = outcomes;
    EXPECT_TRUE(find_check(report, "baseline", "app:public.a")->passed);
    const auto* b = find_check(report, "baseline", "app:public.b");
    EXPECT_FALSE(b->passed);
    EXPECT_NE(b->detail.find("5 rows, baseline 2 rows"), std::string::npos);
    EXPECT_FALSE(find_check(report, "baseline", "app:public.gone")->passed);
    EXPECT_FALSE(find_check(report, "baseline", "other")->passed);
    const auto* fresh = find_check(report, "baseline", "app:public.fresh");
    EXPECT_TRUE(fresh->passed);
    EXPECT_NE(fresh->detail.find("new table"), std::string::npos);
    EXPECT_EQ(failed_count(report), 3u);
}

TEST(ValidateReport, TextSummary) {
    ValidationReport report;
    report.checks = {{"connect", "app", true, "ok", false, "app"},
                     {"amcheck", "app", true, "no amcheck", true, "app"}};
    EXPECT_TRUE(report.passed());
    std::string text = report.to_text();
    EXPECT_NE(text.find("SKIPPED amcheck app: no amcheck"), std::string::npos) << text;
    EXPECT_NE(text.find("connect 1"), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("PASSED\n")) << text;
    EXPECT_NE(text.find("database app: passed: 0 tables counted; passed connect 1; skipped "
                        "amcheck 1\n"),
              std::string::npos)
        << text;
    report.checks.push_back({"user", "users exist", false, "got '0', expected > 0", false, "app"});
    text = report.to_text();
    EXPECT_NE(text.find("FAILED  user users exist: got '0', expected > 0"), std::string::npos);
    EXPECT_TRUE(text.ends_with("FAILED (1 of 3 checks failed)\n")) << text;
    EXPECT_NE(text.find("database app: FAILED: 0 tables counted; passed connect 1; failed user 1"),
              std::string::npos)
        << text;
}

TEST(ValidateConninfo, ReplacesDatabase) {
    auto kv = conninfo_with_database("host=/tmp port=5433 dbname=old user=me", "new db");
    ASSERT_TRUE(kv) << kv.error().message;
    EXPECT_NE(kv->find("dbname='new db'"), std::string::npos) << *kv;
    EXPECT_EQ(kv->find("old"), std::string::npos) << *kv;
    EXPECT_NE(kv->find("port='5433'"), std::string::npos) << *kv;

    auto uri = conninfo_with_database("postgresql://me@db.example:5434/old?sslmode=disable", "o'k");
    ASSERT_TRUE(uri) << uri.error().message;
    EXPECT_NE(uri->find("host='db.example'"), std::string::npos) << *uri;
    EXPECT_NE(uri->find("sslmode='disable'"), std::string::npos) << *uri;
    EXPECT_NE(uri->find("dbname='o\\'k'"), std::string::npos) << *uri;
    EXPECT_EQ(uri->find("old"), std::string::npos) << *uri;

    EXPECT_FALSE(conninfo_with_database("host", "x"));
}

// ---- Against a real PostgreSQL 15 -------------------------------------------------------------

namespace {

const fs::path k_bindir = "/usr/lib/postgresql/15/bin";

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    int port = 54329;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
        port = ntohs(addr.sin_port);
    }
    if (fd >= 0) ::close(fd);
    return port;
}

}  // namespace

// One server for the suite; each test works in its own database.
class ValidatePostgres : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!fs::exists(k_bindir / "pg_ctl")) return;
        s_present = true;
        auto dir = TempDirectory::create("/tmp", "lb-validate-");
        if (!dir) return void(s_error = dir.error().message);
        s_dir.emplace(std::move(*dir));
        if (::geteuid() == 0) {
            auto account = lookup_user("postgres");
            if (!account) return void(s_error = account.error().message);
            s_run_as = *account;
            if (auto owned = change_owner_recursive(s_dir->path(), *account); !owned) {
                return void(s_error = owned.error().message);
            }
        }
        s_port = free_port();
        const std::string data = (s_dir->path() / "data").string();
        if (!run({"initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                  "--locale=C"})) {
            return;
        }
        const std::string options = fmt::format("-p {} -k {} -c listen_addresses='' -c fsync=off",
                                                s_port, s_dir->path().string());
        if (!run({"pg_ctl", "-D", data, "-l", (s_dir->path() / "log").string(), "-o", options, "-w",
                  "-t", "60", "start"})) {
            return;
        }
        s_started = true;
    }

    static void TearDownTestSuite() {
        if (s_started) {
            (void)run({"pg_ctl", "-D", (s_dir->path() / "data").string(), "-m", "immediate", "-w",
                       "stop"});
            s_started = false;
        }
        s_dir.reset();
    }

    void SetUp() override {
        if (!s_present) GTEST_SKIP() << "PostgreSQL 15 is not installed in " << k_bindir;
        ASSERT_TRUE(s_error.empty()) << s_error;
        ASSERT_TRUE(s_started);
    }

    static bool run(std::vector<std::string> argv) {
        argv[0] = (k_bindir / argv[0]).string();
        ProcessOptions options;
        options.run_as = s_run_as;
        auto result = run_process(argv, options);
        if (!result || result->exit_status != 0) {
            s_error = fmt::format("{} failed: {}", argv[0],
                                  result ? result->output : result.error().message);
            return false;
        }
        return true;
    }

    static std::string conninfo(const std::string& database = "postgres") {
        return fmt::format("host={} port={} dbname={} user=postgres", s_dir->path().string(),
                           s_port, database);
    }

    // Creates `database` and runs `statements` in it, one by one, on one session.
    static void create_database(const std::string& database,
                                const std::vector<std::string>& statements) {
        sql("postgres", {"CREATE DATABASE " + database});
        sql(database, statements);
    }

    static void sql(const std::string& database, const std::vector<std::string>& statements) {
        auto conn = postgres::Connection::open(conninfo(database));
        ASSERT_TRUE(conn) << conn.error().message;
        for (const auto& statement : statements) {
            auto done = conn->execute(statement);
            ASSERT_TRUE(done) << statement << ": " << done.error().message;
        }
    }

    static fs::path write(const std::string& name, const std::string& text) {
        const fs::path path = s_dir->path() / name;
        std::ofstream(path) << text;
        return path;
    }

    // Validates `database` alone (tests share one server, each in its own database).
    static Result<ValidationReport> validate(const std::string& database,
                                             ValidateOptions options = {}) {
        options.conninfo = conninfo(database);
        if (options.databases.empty()) options.databases = {database};
        return run_validation(options);
    }

    static inline bool s_present = false;
    static inline bool s_started = false;
    static inline std::string s_error;
    static inline std::optional<TempDirectory> s_dir;
    static inline std::optional<UserAccount> s_run_as;
    static inline int s_port = 0;
};

namespace {

const std::vector<std::string> k_shop_schema = {
    "CREATE TABLE customers (id int PRIMARY KEY, region text, code int, UNIQUE (region, code))",
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, "
    "region text, code int, FOREIGN KEY (region, code) REFERENCES customers (region, code) "
    "MATCH FULL)",
    "CREATE INDEX orders_customer ON orders (customer_id)",
    "CREATE TABLE events (id int, customer_id int REFERENCES customers, at date) "
    "PARTITION BY RANGE (at)",
    "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO "
    "('2027-01-01')",
    "CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO "
    "('2028-01-01')",
    "INSERT INTO customers SELECT g, 'eu', g FROM generate_series(1, 100) g",
    "INSERT INTO orders SELECT g, g % 100 + 1, 'eu', g % 100 + 1 FROM generate_series(1, 500) g",
    "INSERT INTO orders VALUES (501, NULL, NULL, NULL)",
    "INSERT INTO events VALUES (1, 1, '2026-05-01'), (2, 2, '2027-05-01'), (3, NULL, '2027-06-01')",
    "CREATE INDEX events_id ON events (id)",
    "CREATE UNLOGGED TABLE scratch (x int)",
};

}  // namespace

TEST_F(ValidatePostgres, CleanSchemaPasses) {
    create_database("clean", k_shop_schema);
    auto report = validate("clean");
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->passed()) << report->to_text();

    std::map<std::string, std::int64_t> rows;
    for (const auto& t : report->tables) {
        EXPECT_EQ(t.database, "clean");
        rows[t.schema + "." + t.table] = t.rows;
    }
    EXPECT_EQ(rows, (std::map<std::string, std::int64_t>{{"public.customers", 100},
                                                         {"public.orders", 501},
                                                         {"public.events_2026", 1},
                                                         {"public.events_2027", 2}}));
    // Three foreign keys; the clones on the partitions are not checked twice.
    std::size_t foreign_keys = 0;
    for (const auto& c : report->checks)
        foreign_keys += c.kind == "foreign_key";
    EXPECT_EQ(foreign_keys, 3u);

    // amcheck: installed for the run only, and every B-tree index checked.
    const auto* index = find_check(*report, "amcheck", "clean:public.orders_customer");
    ASSERT_NE(index, nullptr) << report->to_text();
    EXPECT_TRUE(index->passed);
    EXPECT_FALSE(index->skipped);
    EXPECT_NE(find_check(*report, "amcheck", "clean:public.customers_pkey"), nullptr);
    EXPECT_NE(find_check(*report, "amcheck", "clean:public.events_2027_id_idx"), nullptr);
    auto conn = postgres::Connection::open(conninfo("clean"));
    ASSERT_TRUE(conn);
    EXPECT_EQ(*conn->query_value("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"),
              "0");
    EXPECT_EQ(*conn->query_value("SELECT count(*) FROM pg_namespace WHERE nspname ~ 'lifeboat'"),
              "0");
}

TEST_F(ValidatePostgres, OrphanRowsFailNamingTheConstraint) {
    create_database("orphan", k_shop_schema);
    sql("orphan", {"CREATE TABLE notes (customer_id int)", "INSERT INTO notes VALUES (7777)",
                   "ALTER TABLE notes ADD FOREIGN KEY (customer_id) REFERENCES customers "
                   "NOT VALID",
                   "SET session_replication_role = replica",
                   "INSERT INTO orders VALUES (900, 4242, NULL, NULL), (901, 4243, 'eu', 1)",
                   // MATCH FULL: a partly NULL key is an orphan too.
                   "INSERT INTO orders VALUES (902, 1, 'eu', NULL)"});
    auto report = validate("orphan");
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_FALSE(report->passed());

    const auto* simple = find_check(*report, "foreign_key", "orders_customer_id_fkey");
    ASSERT_NE(simple, nullptr) << report->to_text();
    EXPECT_FALSE(simple->passed);
    EXPECT_NE(simple->detail.find("constraint orders_customer_id_fkey: 2 row(s)"),
              std::string::npos)
        << simple->detail;
    EXPECT_NE(simple->detail.find("(4242)"), std::string::npos) << simple->detail;
    const auto* full = find_check(*report, "foreign_key", "orders_region_code_fkey");
    ASSERT_NE(full, nullptr);
    EXPECT_FALSE(full->passed);
    EXPECT_NE(full->detail.find("(eu, NULL)"), std::string::npos) << full->detail;
    const auto* not_valid = find_check(*report, "foreign_key", "notes_customer_id_fkey");
    ASSERT_NE(not_valid, nullptr);
    EXPECT_TRUE(not_valid->passed && not_valid->skipped);
    EXPECT_EQ(failed_count(*report), 2u) << report->to_text();
    EXPECT_NE(report->to_text().find("FAILED  foreign_key orphan:public.orders."),
              std::string::npos);
}

TEST_F(ValidatePostgres, UserChecks) {
    create_database("usercheck",
                    {"CREATE TABLE users (id int)", "CREATE TABLE orders (created_at timestamptz)",
                     "INSERT INTO orders VALUES ('2026-01-01 10:00:00+00')"});
    const fs::path checks = write("usercheck.toml", R"toml(
[[check]]
name = "users exist"
sql = "SELECT count(*) FROM users"
expect = "> 0"
[[check]]
name = "no users"
sql = "SELECT count(*) FROM users"
expect = "= 0"
[[check]]
name = "writes refused"
sql = "INSERT INTO users VALUES (1) RETURNING id"
expect = "= 1"
[[check]]
name = "null max"
sql = "SELECT max(id) FROM users"
expect = ">= 1"
[[check]]
name = "broken sql"
sql = "SELECT count(*) FROM no_such_table"
expect = "= 0"
[[check]]
name = "two rows"
sql = "SELECT 1 UNION ALL SELECT 2"
expect = "= 1"
[[check]]
name = "before target"
sql = "SELECT max(created_at) FROM orders"
expect = "<= target"
[[check]]
name = "other database"
sql = "SELECT current_database()"
expect = "= 'postgres'"
database = "postgres"
)toml");
    ValidateOptions options;
    options.checks_file = checks;
    // 11:00 at +01:00 is exactly the last order: "<=" holds.
    options.target = *parse_iso8601("2026-01-01T11:00:00+01:00");
    auto report = validate("usercheck", options);
    ASSERT_TRUE(report) << report.error().message;
    auto user = [&](const char* name) {
        const auto* c = find_check(*report, "user", name);
        EXPECT_NE(c, nullptr) << name;
        return c ? *c : CheckOutcome{};
    };
    EXPECT_FALSE(user("users exist").passed);
    EXPECT_TRUE(user("no users").passed);
    EXPECT_NE(user("null max").detail.find("query returned NULL"), std::string::npos);
    EXPECT_EQ(user("broken sql").detail, "relation \"no_such_table\" does not exist");
    EXPECT_NE(user("two rows").detail.find("2 rows"), std::string::npos);
    EXPECT_TRUE(user("before target").passed) << user("before target").detail;
    EXPECT_TRUE(user("other database").passed) << user("other database").detail;
    EXPECT_NE(user("writes refused").detail.find("read-only transaction"), std::string::npos);
    EXPECT_EQ(failed_count(*report), 5u) << report->to_text();

    options.target = *parse_iso8601("2026-01-01T09:59:59Z");
    report = validate("usercheck", options);
    ASSERT_TRUE(report);
    EXPECT_FALSE(user("before target").passed);

    options.target.reset();
    auto missing = validate("usercheck", options);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::usage);
}

TEST_F(ValidatePostgres, BaselineMismatchFails) {
    create_database("base", {"CREATE TABLE t (x int)", "INSERT INTO t VALUES (1), (2)",
                             "CREATE TABLE \"Gone\" (x int)"});
    auto first = validate("base");
    ASSERT_TRUE(first) << first.error().message;
    ValidateOptions options;
    options.baseline_file = write("baseline.json", first->to_json());
    auto same = validate("base", options);
    ASSERT_TRUE(same) << same.error().message;
    EXPECT_TRUE(same->passed()) << same->to_text();

    sql("base", {"INSERT INTO t VALUES (3)", "DROP TABLE \"Gone\"", "CREATE TABLE fresh (y int)"});
    auto changed = validate("base", options);
    ASSERT_TRUE(changed);
    EXPECT_FALSE(changed->passed());
    const auto* t = find_check(*changed, "baseline", "base:public.t");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->detail, "3 rows, baseline 2 rows");
    EXPECT_FALSE(find_check(*changed, "baseline", "base:public.Gone")->passed);
    EXPECT_TRUE(find_check(*changed, "baseline", "base:public.fresh")->passed);
    EXPECT_EQ(failed_count(*changed), 2u) << changed->to_text();

    options.baseline_file = write("bad.json", "{\"tables\": [\n}");
    auto bad = validate("base", options);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::config);
    EXPECT_NE(bad.error().message.find("bad.json line 2"), std::string::npos)
        << bad.error().message;
}

TEST_F(ValidatePostgres, AllDatabasesAndConnectionErrors) {
    create_database("alla", {"CREATE TABLE a (x int)"});
    create_database("allb", {"CREATE TABLE b (x int)", "INSERT INTO b VALUES (1)"});
    // The default: every database, whichever one the conninfo names.
    ValidateOptions options;
    options.conninfo = conninfo("alla");
    auto report = run_validation(options);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(find_check(*report, "connect", "postgres")->passed);
    EXPECT_TRUE(find_check(*report, "connect", "alla")->passed);
    EXPECT_TRUE(find_check(*report, "connect", "allb")->passed);
    EXPECT_EQ(find_check(*report, "connect", "template"), nullptr);
    bool a = false, b = false;
    for (const auto& t : report->tables) {
        a |= t.database == "alla" && t.table == "a" && t.rows == 0;
        b |= t.database == "allb" && t.table == "b" && t.rows == 1;
    }
    EXPECT_TRUE(a && b);

    // Each database says what was checked in it.
    const auto summaries = summarize_databases(report->checks, report->tables);
    const auto allb = std::find_if(summaries.begin(), summaries.end(),
                                   [](const auto& s) { return s.database == "allb"; });
    ASSERT_NE(allb, summaries.end());
    EXPECT_EQ(allb->tables, 1u);
    EXPECT_EQ(allb->passed.at("connect"), 1u);
    EXPECT_EQ(allb->passed.at("row_count"), 1u);
    EXPECT_NE(report->to_text().find("database allb: passed: 1 tables counted"), std::string::npos)
        << report->to_text();
    const auto json = nlohmann::json::parse(report->to_json());
    bool listed = false;
    for (const auto& d : json.at("databases"))
        listed |= d.at("name") == "allb" && d.at("tables") == 1 && d.at("passed") == true;
    EXPECT_TRUE(listed) << json.dump();

    // --database narrows; a name that is not there fails, it is not silently skipped.
    options.databases = {"allb", "no_such_db", "template0"};
    report = run_validation(options);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(find_check(*report, "connect", "allb")->passed);
    EXPECT_EQ(find_check(*report, "connect", "alla"), nullptr);
    EXPECT_FALSE(find_check(*report, "connect", "no_such_db")->passed);
    EXPECT_FALSE(find_check(*report, "connect", "template0")->passed);
    EXPECT_EQ(failed_count(*report), 2u) << report->to_text();

    auto refused = validate("no_such_database");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::database);
}

// A server that accepts the connection and never answers: the connection fails within the
// limit instead of hanging.
TEST(ValidateTimeouts, SilentServerFailsWithinTheLimit) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 8), 0);  // the kernel completes the handshake; nobody reads
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    const int port = ntohs(addr.sin_port);

    const auto started = std::chrono::steady_clock::now();
    auto conn = postgres::Connection::open(
        fmt::format("host=127.0.0.1 port={} dbname=x user=x sslmode=disable", port),
        {.connect = std::chrono::seconds(2)});
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(conn);
    EXPECT_EQ(conn.error().code, ErrorCode::database);
    EXPECT_NE(conn.error().message.find("within 2 s"), std::string::npos) << conn.error().message;
    EXPECT_NE(conn.error().message.find("port " + std::to_string(port)), std::string::npos)
        << conn.error().message;
    EXPECT_LT(took, std::chrono::seconds(10));

    // connect_timeout in the conninfo wins (libpq's minimum is 2 s).
    auto given = postgres::Connection::open(
        fmt::format("host=127.0.0.1 port={} dbname=x user=x sslmode=disable connect_timeout=3",
                    port),
        {.connect = std::chrono::seconds(60)});
    ASSERT_FALSE(given);
    EXPECT_NE(given.error().message.find("within 3 s"), std::string::npos) << given.error().message;
    ::close(listener);
}

TEST_F(ValidatePostgres, OrdinaryUserSkipsAmcheckAndReportsUnreadableTables) {
    create_database("plain",
                    {"CREATE TABLE open_t (x int PRIMARY KEY)", "CREATE TABLE secret (x int)",
                     "CREATE ROLE reader LOGIN", "GRANT SELECT ON open_t TO reader"});
    ValidateOptions options;
    options.conninfo = conninfo("plain") + " user=reader";
    options.databases = {"plain"};
    auto report = run_validation(options);
    ASSERT_TRUE(report) << report.error().message;
    const auto* amcheck = find_check(*report, "amcheck", "plain");
    ASSERT_NE(amcheck, nullptr) << report->to_text();
    EXPECT_TRUE(amcheck->passed && amcheck->skipped);
    EXPECT_NE(amcheck->detail.find("superuser"), std::string::npos) << amcheck->detail;
    const auto* secret = find_check(*report, "row_count", "plain:public.secret");
    ASSERT_NE(secret, nullptr) << report->to_text();
    EXPECT_NE(secret->detail.find("permission denied"), std::string::npos) << secret->detail;
    ASSERT_EQ(report->tables.size(), 1u);  // open_t, counted after the failure of secret
    EXPECT_EQ(report->tables[0].table, "open_t");
    EXPECT_EQ(failed_count(*report), 1u) << report->to_text();
}
