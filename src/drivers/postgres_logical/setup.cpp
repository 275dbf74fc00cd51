#include "drivers/postgres_logical/setup.hpp"

#include "drivers/postgres_logical/preflight.hpp"
#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres_logical {

std::vector<std::string> ddl_capture_statements() {
    // SECURITY DEFINER: the message is written whoever runs the DDL. search_path pinned, so
    // that no object of a user's schema can stand in for the catalog functions.
    return {
        fmt::format("CREATE OR REPLACE FUNCTION {}() RETURNS event_trigger LANGUAGE plpgsql "
                    "SECURITY DEFINER SET search_path = pg_catalog AS $lb$ BEGIN PERFORM "
                    "pg_catalog.pg_logical_emit_message(true, '{}', "
                    "pg_catalog.current_query()); END $lb$",
                    k_ddl_function, k_ddl_message_prefix),
        fmt::format("DROP EVENT TRIGGER IF EXISTS {}", k_ddl_trigger),
        fmt::format("CREATE EVENT TRIGGER {} ON ddl_command_end EXECUTE FUNCTION {}()",
                    k_ddl_trigger, k_ddl_function),
    };
}

Result<SetupReport> logical_setup(const std::string& conninfo, ApplySetup apply,
                                  std::chrono::seconds statement_timeout) {
    if (conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn =
        LB_TRY(postgres::Connection::open(conninfo, {.statement = statement_timeout}));
    SetupReport report;
    const SourceFacts facts = LB_TRY(read_source_facts(conn));
    report.problems = preflight_problems(facts);
    if (!facts.publication) {
        // k_publication is a plain lower-case identifier: no quoting needed.
        report.missing.push_back(
            fmt::format("CREATE PUBLICATION {} FOR ALL TABLES", k_publication));
    } else if (!facts.publication_all_tables) {
        report.notes.push_back(fmt::format(
            "publication {} lists its tables: tables created later are not captured until "
            "ALTER PUBLICATION {} ADD TABLE ... (a superuser can make it FOR ALL TABLES)",
            k_publication, k_publication));
    }
    report.ddl_capture = facts.ddl_capture;
    if (!facts.ddl_capture) {
        for (auto& statement : ddl_capture_statements())
            report.missing.push_back(std::move(statement));
    }
    if (apply == ApplySetup::yes) {
        for (const auto& statement : report.missing) {
            auto done = conn.execute(statement);
            if (!done) {
                return fail(ErrorCode::database,
                            "{} (a FOR ALL TABLES publication and an event trigger need a "
                            "superuser, rds_superuser on RDS and Aurora: give the admin role's "
                            "--pg)",
                            done.error().message);
            }
            report.applied.push_back(statement);
        }
        report.ddl_capture = true;  // created, or there already
    }
    return report;
}

}  // namespace lifeboat::postgres_logical
