#include "drivers/postgres_logical/setup.hpp"

#include "drivers/postgres_logical/preflight.hpp"
#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres_logical {

Result<SetupReport> logical_setup(const std::string& conninfo, ApplySetup apply,
                                  std::chrono::seconds statement_timeout) {
    if (conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn =
        LB_TRY(postgres::Connection::open(conninfo, {.statement = statement_timeout}));
    SetupReport report;
    report.problems = preflight_problems(LB_TRY(read_source_facts(conn)));
    auto publication = LB_TRY(conn.query("SELECT 1 FROM pg_publication WHERE pubname = $1",
                                         {std::string(k_publication)}));
    if (publication.rows() == 0) {
        // k_publication is a plain lower-case identifier: no quoting needed.
        report.missing.push_back(
            fmt::format("CREATE PUBLICATION {} FOR ALL TABLES", k_publication));
    }
    if (apply == ApplySetup::yes) {
        for (const auto& statement : report.missing) {
            LB_CHECK(conn.execute(statement));
            report.applied.push_back(statement);
        }
    }
    return report;
}

}  // namespace lifeboat::postgres_logical
