#include "drivers/postgres_physical/validate.hpp"

#include <algorithm>
#include <map>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "drivers/postgres_physical/validate_checks.hpp"
#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres_physical {

namespace {

using postgres::Connection;
using postgres::QueryResult;

// System schemas hold no user data; pg_toast* are the TOAST schemas (also of temp tables).
constexpr const char* k_user_schema_filter =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'";

// Connection::open names the connection string, which may hold a password: keep only libpq's
// reason, since outcomes end up in report files.
std::string connect_failure(const std::string& conninfo, std::string message) {
    const std::string prefix = "cannot connect to PostgreSQL (" + conninfo + "): ";
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
    return message;
}

std::string version_text(int version) {
    if (version >= 100000) return fmt::format("{}.{}", version / 10000, version % 10000);
    return fmt::format("{}.{}.{}", version / 10000, version / 100 % 100, version % 100);
}

std::string strip_query_failed(std::string message) {
    for (std::string_view prefix : {"query failed: ", "ERROR:  "}) {
        if (message.starts_with(prefix)) message.erase(0, prefix.size());
    }
    return message;
}

// The checks of one database, on one connection.
class DatabaseChecks {
  public:
    DatabaseChecks(Connection& conn, std::string database, ValidationReport& report)
        : m_conn(conn), m_database(std::move(database)), m_report(report) {}

    // Counts, foreign keys and user checks share one snapshot; read only, so no user check can
    // change the instance being validated.
    void run(bool infrastructure, const std::vector<const UserCheck*>& checks,
             const std::optional<Timestamp>& target) {
        if (auto begun = m_conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
            !begun) {
            add("connect", m_database, false, strip_query_failed(begun.error().message));
            return;
        }
        if (infrastructure) {
            count_rows();
            check_foreign_keys();
        }
        for (const UserCheck* check : checks)
            run_user_check(*check, target);
        (void)m_conn.execute("ROLLBACK");
        if (infrastructure) check_indexes();
    }

  private:
    void add(std::string kind, std::string name, bool passed, std::string detail,
             bool skipped = false) {
        m_report.checks.push_back(
            {std::move(kind), std::move(name), passed, std::move(detail), skipped, m_database});
    }

    std::string qualified(const std::string& schema, const std::string& name) const {
        return m_conn.quote_identifier(schema) + "." + m_conn.quote_identifier(name);
    }

    // A failing statement aborts the whole transaction; a savepoint confines it to this one
    // query, so one unreadable table or broken user check does not hide the rest.
    Result<QueryResult> guarded(const std::string& sql,
                                const std::vector<std::string>& params = {}) {
        LB_CHECK(m_conn.execute("SAVEPOINT lifeboat_check"));
        auto result = m_conn.query(sql, params);
        LB_CHECK(m_conn.execute(result ? "RELEASE SAVEPOINT lifeboat_check"
                                       : "ROLLBACK TO SAVEPOINT lifeboat_check"));
        if (!result)
            return fail(ErrorCode::database, "{}", strip_query_failed(result.error().message));
        return result;
    }

    void count_rows() {
        auto tables = guarded(
            fmt::format("SELECT n.nspname, c.relname FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND {} ORDER BY 1, 2",
                        k_user_schema_filter));
        if (!tables) {
            add("row_count", m_database, false, tables.error().message);
            return;
        }
        std::size_t counted = 0;
        for (std::size_t i = 0; i < tables->rows(); ++i) {
            const std::string schema = tables->text(i, 0), table = tables->text(i, 1);
            // ONLY: a parent of (legacy) inheritance children counts just its own rows.
            auto rows = guarded("SELECT count(*) FROM ONLY " + qualified(schema, table));
            if (!rows) {
                add("row_count", fmt::format("{}:{}.{}", m_database, schema, table), false,
                    rows.error().message);
                continue;
            }
            m_report.tables.push_back({m_database, schema, table, std::stoll(rows->text(0, 0))});
            ++counted;
        }
        add("row_count", m_database, true, fmt::format("counted the rows of {} tables", counted));
    }

    struct ForeignKey {
        std::string name, schema, table, ref_schema, ref_table;
        bool match_full = false, only = false, ref_only = false, validated = true;
        std::vector<std::string> columns, ref_columns, operators;
    };

    std::string anti_join_sql(const ForeignKey& fk) const {
        std::string all_set, all_null, any_null, match, keys;
        for (std::size_t i = 0; i < fk.columns.size(); ++i) {
            const std::string column = "lb_r." + m_conn.quote_identifier(fk.columns[i]);
            const std::string sep = i ? " AND " : "";
            all_set += sep + column + " IS NOT NULL";
            all_null += sep + column + " IS NULL";
            any_null += (i ? " OR " : "") + column + " IS NULL";
            // The constraint's own equality operator, as the server's RI triggers use it.
            match += sep + "lb_p." + m_conn.quote_identifier(fk.ref_columns[i]) + " OPERATOR(" +
                     fk.operators[i] + ") " + column;
            keys += (i ? ", " : "") + column + "::text";
        }
        std::string where =
            fmt::format("({}) AND NOT EXISTS (SELECT 1 FROM {}{} AS lb_p WHERE {})", all_set,
                        fk.ref_only ? "ONLY " : "", qualified(fk.ref_schema, fk.ref_table), match);
        // MATCH FULL forbids a key that is partly NULL; MATCH SIMPLE exempts it.
        if (fk.match_full && fk.columns.size() > 1) {
            where = fmt::format("({}) OR (NOT ({}) AND ({}))", where, all_null, any_null);
        }
        // The window count is computed before LIMIT: the total number of orphans.
        return fmt::format("SELECT {}, count(*) OVER () FROM {}{} AS lb_r WHERE {} LIMIT 3", keys,
                           fk.only ? "ONLY " : "", qualified(fk.schema, fk.table), where);
    }

    void check_foreign_keys() {
        // One row per key column; constraints cloned onto partitions (conparentid <> 0) are
        // covered by their parent's check.
        const std::string parent_filter =
            m_conn.server_version() >= 110000 ? "AND con.conparentid = 0" : "";
        auto rows = guarded(fmt::format(
            "SELECT con.oid, con.conname, con.confmatchtype, n.nspname, c.relname, c.relkind, "
            "fn.nspname, f.relname, f.relkind, a.attname, fa.attname, "
            "quote_ident(opn.nspname) || '.' || op.oprname, con.convalidated "
            "FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class f ON f.oid = con.confrelid "
            "JOIN pg_namespace fn ON fn.oid = f.relnamespace "
            "CROSS JOIN LATERAL unnest(con.conkey, con.confkey, con.conpfeqop) "
            "  WITH ORDINALITY AS k(attnum, ref_attnum, eqop, position) "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum "
            "JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.ref_attnum "
            "JOIN pg_operator op ON op.oid = k.eqop "
            "JOIN pg_namespace opn ON opn.oid = op.oprnamespace "
            "WHERE con.contype = 'f' {} AND c.relpersistence <> 't' AND {} "
            "ORDER BY n.nspname, c.relname, con.conname, con.oid, k.position",
            parent_filter, k_user_schema_filter));
        if (!rows) {
            add("foreign_key", m_database, false, rows.error().message);
            return;
        }
        std::vector<ForeignKey> keys;
        std::string last_oid;
        for (std::size_t i = 0; i < rows->rows(); ++i) {
            if (keys.empty() || rows->text(i, 0) != last_oid) {
                last_oid = rows->text(i, 0);
                keys.push_back({rows->text(i, 1),
                                rows->text(i, 3),
                                rows->text(i, 4),
                                rows->text(i, 6),
                                rows->text(i, 7),
                                rows->text(i, 2) == "f",
                                rows->text(i, 5) == "r",
                                rows->text(i, 8) == "r",
                                rows->text(i, 12) == "t",
                                {},
                                {},
                                {}});
            }
            keys.back().columns.push_back(rows->text(i, 9));
            keys.back().ref_columns.push_back(rows->text(i, 10));
            keys.back().operators.push_back(rows->text(i, 11));
        }
        for (const ForeignKey& fk : keys)
            check_foreign_key(fk);
    }

    void check_foreign_key(const ForeignKey& fk) {
        const std::string name =
            fmt::format("{}:{}.{}.{}", m_database, fk.schema, fk.table, fk.name);
        // NOT VALID: the server never promised that existing rows match, so orphans would say
        // nothing about the restore.
        if (!fk.validated) {
            return add("foreign_key", name, true, "skipped: the constraint is NOT VALID", true);
        }
        auto orphans = guarded(anti_join_sql(fk));
        if (!orphans) {
            add("foreign_key", name, false, orphans.error().message);
            return;
        }
        if (orphans->rows() == 0) {
            add("foreign_key", name, true, "no orphan rows");
            return;
        }
        const std::size_t width = fk.columns.size();
        std::vector<std::string> samples;
        for (std::size_t r = 0; r < orphans->rows(); ++r) {
            std::vector<std::string> values;
            for (std::size_t c = 0; c < width; ++c) {
                const auto& value = orphans->at(r, c);
                values.push_back(value ? *value : "NULL");
            }
            samples.push_back(fmt::format("({})", fmt::join(values, ", ")));
        }
        add("foreign_key", name, false,
            fmt::format(
                "constraint {}: {} row(s) of {}.{} ({}) have no match in {}.{} ({}); e.g. {}",
                fk.name, orphans->text(0, width), fk.schema, fk.table, fmt::join(fk.columns, ", "),
                fk.ref_schema, fk.ref_table, fmt::join(fk.ref_columns, ", "),
                fmt::join(samples, ", ")));
    }

    // Runs in its own transaction, always rolled back: when amcheck is not installed it is
    // created there and disappears with the rollback, leaving the instance untouched.
    void check_indexes() {
        if (auto begun = m_conn.execute("BEGIN"); !begun) {
            add("amcheck", m_database, false, strip_query_failed(begun.error().message));
            return;
        }
        check_indexes_in_transaction();
        (void)m_conn.execute("ROLLBACK");
    }

    void check_indexes_in_transaction() {
        auto skip = [&](std::string why) {
            add("amcheck", m_database, true, std::move(why), true);
        };
        auto installed = guarded(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'amcheck'");
        if (!installed) return skip(installed.error().message);
        std::string schema;
        if (installed->rows() == 1) {
            schema = installed->text(0, 0);
        } else {
            auto available = guarded(
                "SELECT count(*), current_setting('is_superuser') FROM pg_available_extensions "
                "WHERE name = 'amcheck'");
            if (!available) return skip(available.error().message);
            if (available->text(0, 0) == "0") {
                return skip("the amcheck extension is not available on this server");
            }
            if (available->text(0, 1) != "on") {
                return skip(
                    "amcheck is not installed in this database, and only a superuser "
                    "may create it");
            }
            schema = "lifeboat_amcheck";
            auto created = guarded("CREATE SCHEMA lifeboat_amcheck");
            if (created) created = guarded("CREATE EXTENSION amcheck SCHEMA lifeboat_amcheck");
            if (!created) return skip("cannot create amcheck: " + created.error().message);
        }
        const std::string function = m_conn.quote_identifier(schema) + ".bt_index_check";
        auto allowed =
            guarded("SELECT has_function_privilege($1, 'EXECUTE')", {function + "(regclass)"});
        if (!allowed || allowed->text(0, 0) != "t") {
            return skip("no permission to execute " + function);
        }
        auto indexes = guarded(fmt::format(
            "SELECT c.oid, n.nspname, c.relname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam "
            "WHERE am.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND i.indisready "
            "AND t.relpersistence <> 't' AND {} ORDER BY 2, 3",
            k_user_schema_filter));
        if (!indexes) return skip(indexes.error().message);
        for (std::size_t i = 0; i < indexes->rows(); ++i) {
            const std::string name =
                fmt::format("{}:{}.{}", m_database, indexes->text(i, 1), indexes->text(i, 2));
            auto checked = guarded("SELECT " + function + "(index => $1::oid::regclass)",
                                   {indexes->text(i, 0)});
            add("amcheck", name, checked.has_value(),
                checked ? std::string("bt_index_check passed") : checked.error().message);
        }
    }

    // No row later than the target; the newest no more than `within` before it.
    void run_point_in_time_check(const UserCheck& check, Timestamp target) {
        const PointInTimeCheck& pit = *check.point_in_time;
        const std::string target_text = format_iso8601(target);
        // The server quotes the identifiers and resolves the table (regclass), so any spelling
        // SQL accepts works and nothing is spliced in unquoted.
        // A `timestamp without time zone` column is read as UTC (the session's TimeZone, which
        // the restored configuration may set, must not shift it).
        auto query = guarded(
            "SELECT format(CASE WHEN a.atttypid = 'timestamp'::regtype "
            "THEN 'SELECT max(%I) AT TIME ZONE ''UTC'' FROM %s' "
            "ELSE 'SELECT max(%I)::timestamptz FROM %s' END, $1::text, $2::regclass) "
            "FROM pg_attribute a WHERE a.attrelid = $2::regclass AND a.attname = $1::text "
            "AND NOT a.attisdropped",
            {pit.column, pit.table});
        if (!query) return add("point-in-time", check.name, false, query.error().message);
        if (query->rows() != 1) {
            return add("point-in-time", check.name, false,
                       fmt::format("table {} has no column {}", pit.table, pit.column));
        }
        auto newest = guarded(query->text(0, 0));
        if (!newest) return add("point-in-time", check.name, false, newest.error().message);
        const auto& value = newest->at(0, 0);
        if (!value) {
            return add("point-in-time", check.name, false,
                       fmt::format("the table is empty: no row within {} s before the target {}",
                                   pit.within.count(), target_text));
        }
        auto judged = guarded(
            "SELECT $1::timestamptz <= $2::timestamptz, "
            "$2::timestamptz - $1::timestamptz <= make_interval(secs => $3::float8), "
            "extract(epoch FROM $2::timestamptz - $1::timestamptz)",
            {*value, target_text, std::to_string(pit.within.count())});
        if (!judged) return add("point-in-time", check.name, false, judged.error().message);
        const bool not_after = judged->text(0, 0) == "t";
        const bool recent = judged->text(0, 1) == "t";
        const std::string behind = judged->text(0, 2);
        if (!not_after) {
            return add("point-in-time", check.name, false,
                       fmt::format("newest row {} is later than the target {}: the restore went "
                                   "past it",
                                   *value, target_text));
        }
        add("point-in-time", check.name, recent,
            fmt::format("newest row {} is {} s before the target {} (allowed: {} s)", *value,
                        behind, target_text, pit.within.count()));
    }

    void run_user_check(const UserCheck& check, const std::optional<Timestamp>& target) {
        if (check.point_in_time) return run_point_in_time_check(check, *target);
        auto result = guarded(check.sql);
        if (!result) return add("user", check.name, false, result.error().message);
        if (result->rows() != 1 || result->columns() != 1) {
            return add("user", check.name, false,
                       fmt::format("query returned {} rows of {} columns; a check needs exactly "
                                   "one row of one column",
                                   result->rows(), result->columns()));
        }
        const auto& value = result->at(0, 0);
        if (check.expect.operand != Expectation::Operand::target) {
            Verdict verdict = evaluate_expectation(check.expect, value);
            return add("user", check.name, verdict.passed, std::move(verdict.detail));
        }
        const std::string target_text = format_iso8601(*target);
        if (!value) {
            return add("user", check.name, false,
                       fmt::format("query returned NULL, expected {} ({})", check.expect.source,
                                   target_text));
        }
        // The server parses both sides, so zones and its own output format are handled by it.
        auto compared = guarded(fmt::format("SELECT ($1)::timestamptz {} ($2)::timestamptz",
                                            expectation_operator(check.expect.op)),
                                {*value, target_text});
        if (!compared) {
            return add("user", check.name, false,
                       fmt::format("got '{}', which is not a timestamp: {}", *value,
                                   compared.error().message));
        }
        add("user", check.name, compared->text(0, 0) == "t",
            fmt::format("got '{}', expected {} ({})", *value, check.expect.source, target_text));
    }

    Connection& m_conn;
    std::string m_database;
    ValidationReport& m_report;
};

}  // namespace

Result<ValidationReport> run_validation(const ValidateOptions& options) {
    // Files first: a typo in them should not cost a round of queries.
    std::vector<UserCheck> user_checks;
    if (options.checks_file) {
        user_checks = LB_TRY(load_user_checks(*options.checks_file));
        for (const auto& check : user_checks) {
            if (check.needs_target() && !options.target) {
                return fail(ErrorCode::usage,
                            "{} line {}: check '{}' compares with the restore target, but no "
                            "target was given",
                            options.checks_file->string(), check.line, check.name);
            }
        }
    }
    std::optional<std::vector<TableCount>> baseline;
    if (options.baseline_file) baseline = LB_TRY(load_baseline(*options.baseline_file));

    const postgres::ConnectLimits limits{.statement = options.statement_timeout};
    std::optional<Connection> first = LB_TRY(Connection::open(options.conninfo, limits));
    const std::string connected = LB_TRY(first->query_value("SELECT current_database()"));
    auto list = LB_TRY(first->query(
        "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"));
    std::vector<std::string> connectable;
    for (std::size_t i = 0; i < list.rows(); ++i)
        connectable.push_back(list.text(i, 0));

    ValidationReport report;
    // Visit order: the validated databases, then those only user checks name.
    std::vector<std::pair<std::string, bool>> visits;  // database, validate it
    auto visiting = [&](const std::string& database) {
        return std::find_if(visits.begin(), visits.end(),
                            [&](const auto& v) { return v.first == database; }) != visits.end();
    };
    if (options.databases.empty()) {
        for (const auto& database : connectable)
            visits.emplace_back(database, true);
    } else {
        for (const auto& database : options.databases) {
            if (visiting(database)) continue;
            if (std::find(connectable.begin(), connectable.end(), database) == connectable.end()) {
                // Named on purpose: it must not pass by being silently absent.
                report.checks.push_back(
                    {"connect", database, false,
                     "no such database, or it does not accept connections (datallowconn) or is "
                     "a template",
                     false, database});
                continue;
            }
            visits.emplace_back(database, true);
        }
    }
    std::map<std::string, std::vector<const UserCheck*>> checks_by_database;
    for (const auto& check : user_checks) {
        const std::string database = check.database.value_or(connected);
        if (!visiting(database)) visits.emplace_back(database, false);
        checks_by_database[database].push_back(&check);
    }

    std::vector<std::string> validated;
    for (const auto& [database, validate] : visits) {
        std::optional<Connection> conn;
        if (database == connected && first) {
            conn = std::move(first);
            first.reset();
        } else {
            auto conninfo = conninfo_with_database(options.conninfo, database);
            auto opened = conninfo ? Connection::open(*conninfo, limits)
                                   : Result<Connection>(std::unexpected(conninfo.error()));
            if (!opened) {
                report.checks.push_back(
                    {"connect", database, false,
                     connect_failure(conninfo.value_or(""), opened.error().message), false,
                     database});
                for (const UserCheck* check : checks_by_database[database]) {
                    report.checks.push_back(
                        {"user", check->name, false,
                         fmt::format("not run: cannot connect to database {}", database), false,
                         database});
                }
                continue;
            }
            conn = std::move(*opened);
        }
        report.checks.push_back({"connect", database, true,
                                 "PostgreSQL " + version_text(conn->server_version()), false,
                                 database});
        DatabaseChecks(*conn, database, report)
            .run(validate, checks_by_database[database], options.target);
        if (validate) validated.push_back(database);
    }
    if (baseline) {
        for (auto& outcome : compare_with_baseline(*baseline, report.tables, validated)) {
            report.checks.push_back(std::move(outcome));
        }
    }
    return report;
}

}  // namespace lifeboat::postgres_physical
