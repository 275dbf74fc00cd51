#include "sources/postgres/pipeline.hpp"

#include "sources/postgres/libpq_library.hpp"

namespace lifeboat::postgres {

Result<Pipeline> Pipeline::start(Connection& conn) {
    if (!conn.m_broken.empty()) return fail(ErrorCode::database, "{}", conn.m_broken);
    if (PQenterPipelineMode(conn.m_conn) != 1) {
        return fail(ErrorCode::database, "cannot enter pipeline mode: {}",
                    first_line(PQerrorMessage(conn.m_conn)));
    }
    return Pipeline(conn);
}

Pipeline::~Pipeline() {
    if (!m_conn) return;
    (void)sync();
    PQexitPipelineMode(m_conn->m_conn);
}

Status Pipeline::sent(int ok, std::string_view what) {
    if (ok != 1) {
        return fail(ErrorCode::database, "sending {} failed: {}", what,
                    first_line(PQerrorMessage(m_conn->m_conn)));
    }
    ++m_queued;
    return {};
}

Status Pipeline::prepare(const std::string& name, const std::string& sql, int params) {
    return sent(PQsendPrepare(m_conn->m_conn, name.c_str(), sql.c_str(), params, nullptr),
                "a statement to prepare");
}

Status Pipeline::execute_prepared(const std::string& name,
                                  const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params)
        values.push_back(p ? p->c_str() : nullptr);
    return sent(PQsendQueryPrepared(m_conn->m_conn, name.c_str(), static_cast<int>(values.size()),
                                    values.data(), nullptr, nullptr, 0),
                "a change");
}

Status Pipeline::execute(const std::string& sql) {
    return sent(
        PQsendQueryParams(m_conn->m_conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0),
        "a statement");
}

Status Pipeline::sync() {
    pg_conn* conn = m_conn->m_conn;
    if (PQpipelineSync(conn) != 1) {
        return fail(ErrorCode::database, "sending a pipeline sync failed: {}",
                    first_line(PQerrorMessage(conn)));
    }
    m_queued = 0;
    std::optional<Error> first;
    for (;;) {
        pg_result* res = PQgetResult(conn);
        if (!res) {
            // Between two statements' answers; a broken connection returns nothing forever.
            if (PQstatus(conn) == CONNECTION_BAD) {
                return fail(ErrorCode::database, "the connection was lost: {}",
                            first_line(PQerrorMessage(conn)));
            }
            continue;
        }
        const auto status = PQresultStatus(res);
        if (status == PGRES_FATAL_ERROR && !first) {
            first = Error{ErrorCode::database, first_line(PQresultErrorMessage(res))};
        }
        PQclear(res);
        if (status == PGRES_PIPELINE_SYNC) break;
    }
    if (first) return std::unexpected(*first);
    return {};
}

Status Pipeline::run_simple(const std::string& sql) {
    LB_CHECK(sync());
    pg_conn* conn = m_conn->m_conn;
    if (PQexitPipelineMode(conn) != 1) {
        return fail(ErrorCode::database, "cannot leave pipeline mode: {}",
                    first_line(PQerrorMessage(conn)));
    }
    Status outcome;
    pg_result* res = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        outcome = fail(ErrorCode::database, "{}", first_line(PQresultErrorMessage(res)));
    }
    PQclear(res);
    if (PQenterPipelineMode(conn) != 1) {
        return fail(ErrorCode::database, "cannot enter pipeline mode: {}",
                    first_line(PQerrorMessage(conn)));
    }
    return outcome;
}

}  // namespace lifeboat::postgres
