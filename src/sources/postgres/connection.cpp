#include "sources/postgres/connection.hpp"

#include <libpq-fe.h>

namespace lifeboat::postgres {

namespace {
// libpq messages end with a newline and sometimes carry a DETAIL line; keep the first line.
std::string first_line(const char* message) {
    std::string text = message ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (auto pos = text.find('\n'); pos != std::string::npos) text.resize(pos);
    return text;
}
}  // namespace

Result<Connection> Connection::open(const std::string& conninfo) {
    pg_conn* conn = PQconnectdb(conninfo.c_str());
    if (!conn) return fail(ErrorCode::database, "cannot allocate a PostgreSQL connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = first_line(PQerrorMessage(conn));
        PQfinish(conn);
        // libpq names host and port in its message; the conninfo itself may hold a password.
        return fail(ErrorCode::database, "cannot connect to PostgreSQL: {}", message);
    }
    // Server notices (pg_backup_stop's "all required WAL segments have been archived") are not
    // for Lifeboat's users; errors arrive through results instead.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    return Connection(conn);
}

Connection::Connection(Connection&& other) noexcept : m_conn(other.m_conn) {
    other.m_conn = nullptr;
}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        if (m_conn) PQfinish(m_conn);
        m_conn = other.m_conn;
        other.m_conn = nullptr;
    }
    return *this;
}

Connection::~Connection() {
    if (m_conn) PQfinish(m_conn);
}

Result<QueryResult> Connection::query(const std::string& sql,
                                      const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params)
        values.push_back(p.c_str());
    // Without parameters use the simple protocol, which accepts several statements at once.
    PGresult* res = values.empty()
                        ? PQexec(m_conn, sql.c_str())
                        : PQexecParams(m_conn, sql.c_str(), static_cast<int>(values.size()),
                                       nullptr, values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        std::string message = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(m_conn));
        if (res) PQclear(res);
        return fail(ErrorCode::database, "query failed: {}", message);
    }
    QueryResult out;
    const int ncols = PQnfields(res);
    const int nrows = PQntuples(res);
    for (int c = 0; c < ncols; ++c)
        out.m_columns.emplace_back(PQfname(res, c));
    out.m_rows.reserve(static_cast<std::size_t>(nrows));
    for (int r = 0; r < nrows; ++r) {
        std::vector<std::optional<std::string>> row;
        row.reserve(static_cast<std::size_t>(ncols));
        for (int c = 0; c < ncols; ++c) {
            if (PQgetisnull(res, r, c)) {
                row.emplace_back(std::nullopt);
            } else {
                row.emplace_back(std::string(PQgetvalue(res, r, c),
                                             static_cast<std::size_t>(PQgetlength(res, r, c))));
            }
        }
        out.m_rows.push_back(std::move(row));
    }
    PQclear(res);
    return out;
}

Result<std::string> Connection::query_value(const std::string& sql,
                                            const std::vector<std::string>& params) {
    auto result = LB_TRY(query(sql, params));
    if (result.rows() != 1 || result.columns() < 1) {
        return fail(ErrorCode::database, "query returned {} rows, expected one: {}", result.rows(),
                    sql);
    }
    return result.text(0, 0);
}

Status Connection::execute(const std::string& sql) {
    LB_CHECK(query(sql));
    return {};
}

int Connection::server_version() const {
    return PQserverVersion(m_conn);
}

std::string Connection::database() const {
    return PQdb(m_conn);
}

std::string Connection::quote_identifier(const std::string& name) const {
    char* quoted = PQescapeIdentifier(m_conn, name.c_str(), name.size());
    std::string out = quoted ? quoted : "";
    PQfreemem(quoted);
    return out;
}

std::string Connection::quote_literal(const std::string& value) const {
    char* quoted = PQescapeLiteral(m_conn, value.c_str(), value.size());
    std::string out = quoted ? quoted : "";
    PQfreemem(quoted);
    return out;
}

}  // namespace lifeboat::postgres
