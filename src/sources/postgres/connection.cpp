#include "sources/postgres/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "sources/postgres/libpq_library.hpp"

namespace lifeboat::postgres {

namespace {

using Clock = std::chrono::steady_clock;

bool succeeded(const pg_result* res) {
    const auto status = PQresultStatus(res);
    return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

enum class Direction { read, write, read_write };
enum class SocketWait { ready, timed_out };

// Waits until the socket is ready in `direction` or the deadline passes. An error or a closed
// socket counts as ready: libpq then reports what went wrong.
SocketWait wait_for_socket(int socket, Direction direction,
                           std::optional<Clock::time_point> deadline) {
    if (socket < 0) return SocketWait::ready;
    pollfd fd{};
    fd.fd = socket;
    fd.events = direction == Direction::read    ? POLLIN
                : direction == Direction::write ? POLLOUT
                                                : POLLIN | POLLOUT;
    for (;;) {
        int timeout_ms = -1;
        if (deadline) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
            if (left.count() <= 0) return SocketWait::timed_out;
            // Wake at least once a minute: poll takes an int, and a deadline may be days away.
            timeout_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 60000));
        }
        const int ready = ::poll(&fd, 1, timeout_ms);
        if (ready > 0) return SocketWait::ready;
        if (ready < 0 && errno != EINTR) return SocketWait::ready;
    }
}

// connect_timeout as libpq resolved it (conninfo, then PGCONNECT_TIMEOUT); nullopt when unset
// or not a number, so that Lifeboat's own limit applies.
std::optional<std::chrono::seconds> connect_timeout_of(pg_conn* conn) {
    PQconninfoOption* options = PQconninfo(conn);
    std::optional<std::chrono::seconds> out;
    for (PQconninfoOption* o = options; o && o->keyword; ++o) {
        if (std::string_view(o->keyword) != "connect_timeout" || !o->val || !*o->val) continue;
        char* end = nullptr;
        const long value = std::strtol(o->val, &end, 10);
        if (end && *end == '\0' && value >= 0) {
            // libpq waits at least 2 s when a limit is set, so a tiny one cannot fail at once.
            out = std::chrono::seconds(value == 0 ? 0 : std::max(value, 2L));
        }
    }
    PQconninfoFree(options);
    return out;
}

}  // namespace

Result<Connection> Connection::open(const std::string& conninfo, const ConnectLimits& limits) {
    // PQconnectdb would honour only libpq's own connect_timeout; polling lets one deadline cover
    // every step, whatever the libpq version does while it waits for the server's first answer.
    LB_CHECK(libpq::load());  // one line naming the package when libpq is missing
    pg_conn* conn = PQconnectStart(conninfo.c_str());
    if (!conn) return fail(ErrorCode::database, "cannot allocate a PostgreSQL connection");
    Connection connection(conn);
    std::chrono::seconds limit = limits.connect;
    if (auto given = connect_timeout_of(conn)) limit = *given;
    std::optional<Clock::time_point> deadline;
    if (limit.count() > 0) deadline = Clock::now() + limit;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(conn) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
           state != PGRES_POLLING_FAILED) {
        const SocketWait wait = wait_for_socket(
            PQsocket(conn), state == PGRES_POLLING_READING ? Direction::read : Direction::write,
            deadline);
        if (wait == SocketWait::timed_out) {
            return fail(ErrorCode::database,
                        "cannot connect to PostgreSQL: the server at {} did not complete the "
                        "connection within {} s (connect_timeout in the connection string sets "
                        "this limit)",
                        connection.where(), limit.count());
        }
        state = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        // libpq names host and port in its message; the conninfo itself may hold a password.
        return fail(ErrorCode::database, "cannot connect to PostgreSQL: {}",
                    first_line(PQerrorMessage(conn)));
    }
    // Server notices (pg_backup_stop's "all required WAL segments have been archived") are not
    // for Lifeboat's users; errors arrive through results instead.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    if (limits.statement.count() > 0) {
        connection.m_statement_limit = limits.statement;
        // The server cancels a statement itself (and says so) when it runs too long; the
        // client's own deadline covers a server that no longer answers at all.
        LB_CHECK(connection.execute(
            fmt::format("SET statement_timeout = {}", limits.statement.count() * 1000)));
    }
    return connection;
}

Connection::Connection(Connection&& other) noexcept
    : m_conn(other.m_conn),
      m_statement_limit(other.m_statement_limit),
      m_broken(std::move(other.m_broken)) {
    other.m_conn = nullptr;
}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        if (m_conn) PQfinish(m_conn);
        m_conn = other.m_conn;
        m_statement_limit = other.m_statement_limit;
        m_broken = std::move(other.m_broken);
        other.m_conn = nullptr;
    }
    return *this;
}

std::string Connection::where() const {
    const char* host = PQhost(m_conn);
    const char* port = PQport(m_conn);
    return fmt::format("host {} port {}", host && *host ? host : "(default)",
                       port && *port ? port : "(default)");
}

Result<pg_result*> Connection::wait_for_result(std::optional<Clock::time_point> deadline) {
    // As PQexec: the first error result if a statement failed, else the last result.
    pg_result* kept = nullptr;
    auto give_up = [&](std::string why) -> std::unexpected<Error> {
        if (kept) PQclear(kept);
        m_broken = std::move(why);
        return std::unexpected(Error{ErrorCode::database, m_broken});
    };
    for (;;) {
        const int flushed = PQflush(m_conn);
        if (flushed < 0)
            return give_up("lost the connection: " + first_line(PQerrorMessage(m_conn)));
        if (flushed == 0 && !PQisBusy(m_conn)) {
            pg_result* res = PQgetResult(m_conn);
            if (!res) break;
            if (kept && !succeeded(kept)) {
                PQclear(res);  // an earlier statement failed: its error is the answer
            } else {
                if (kept) PQclear(kept);
                kept = res;
            }
            continue;
        }
        const SocketWait wait = wait_for_socket(
            PQsocket(m_conn), flushed == 1 ? Direction::read_write : Direction::read, deadline);
        if (wait == SocketWait::timed_out) {
            return give_up(fmt::format(
                "PostgreSQL at {} did not answer within {} s (pg_timeout {} s, plus {} s for the "
                "server's own cancellation): it may be hung or unreachable",
                where(), (m_statement_limit + k_answer_grace).count(), m_statement_limit.count(),
                k_answer_grace.count()));
        }
        // A connection that broke is no longer busy: PQgetResult then hands over what the
        // server said last (e.g. why it terminated the session) as an error result.
        if (!PQconsumeInput(m_conn) && PQstatus(m_conn) != CONNECTION_BAD) {
            return give_up("lost the connection: " + first_line(PQerrorMessage(m_conn)));
        }
    }
    return kept;
}

Connection::~Connection() {
    if (m_conn) PQfinish(m_conn);
}

Result<QueryResult> Connection::query(const std::string& sql,
                                      const std::vector<std::string>& params) {
    if (!m_broken.empty()) return fail(ErrorCode::database, "{}", m_broken);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params)
        values.push_back(p.c_str());
    // Without parameters use the simple protocol, which accepts several statements at once.
    const int sent = values.empty()
                         ? PQsendQuery(m_conn, sql.c_str())
                         : PQsendQueryParams(m_conn, sql.c_str(), static_cast<int>(values.size()),
                                             nullptr, values.data(), nullptr, nullptr, 0);
    if (!sent)
        return fail(ErrorCode::database, "query failed: {}", first_line(PQerrorMessage(m_conn)));
    std::optional<Clock::time_point> deadline;
    if (m_statement_limit.count() > 0) deadline = Clock::now() + m_statement_limit + k_answer_grace;
    PGresult* res = LB_TRY(wait_for_result(deadline));
    if (!res || !succeeded(res)) {
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

Result<std::uint64_t> Connection::copy_out(const std::string& sql,
                                           const std::function<Status(std::string_view)>& consume) {
    if (!m_broken.empty()) return fail(ErrorCode::database, "{}", m_broken);
    PGresult* started = PQexec(m_conn, sql.c_str());
    if (!started || PQresultStatus(started) != PGRES_COPY_OUT) {
        std::string message =
            first_line(started ? PQresultErrorMessage(started) : PQerrorMessage(m_conn));
        if (started) PQclear(started);
        return fail(ErrorCode::database, "COPY failed: {}", message);
    }
    PQclear(started);
    std::uint64_t total = 0;
    for (;;) {
        char* buffer = nullptr;
        const int length = PQgetCopyData(m_conn, &buffer, 0);
        if (length == -1) break;  // done: the command's result follows
        if (length < 0) {
            m_broken = "lost the connection during COPY: " + first_line(PQerrorMessage(m_conn));
            return fail(ErrorCode::database, "{}", m_broken);
        }
        Status consumed = consume(std::string_view(buffer, static_cast<std::size_t>(length)));
        PQfreemem(buffer);
        if (!consumed) {
            // Abandoning a COPY in the middle leaves the protocol out of step: give the
            // connection up rather than drain an arbitrarily large table.
            m_broken = "a COPY was abandoned on this connection";
            return std::unexpected(consumed.error());
        }
        total += static_cast<std::uint64_t>(length);
    }
    PGresult* res = PQgetResult(m_conn);
    const bool ok = res && succeeded(res);
    std::string message = ok ? std::string() : first_line(res ? PQresultErrorMessage(res) : "");
    while (res) {
        PQclear(res);
        res = PQgetResult(m_conn);
    }
    if (!ok) return fail(ErrorCode::database, "COPY failed: {}", message);
    return total;
}

Status Connection::start_copy_both(const std::string& sql) {
    if (!m_broken.empty()) return fail(ErrorCode::database, "{}", m_broken);
    PGresult* started = PQexec(m_conn, sql.c_str());
    if (!started || PQresultStatus(started) != PGRES_COPY_BOTH) {
        std::string message =
            first_line(started ? PQresultErrorMessage(started) : PQerrorMessage(m_conn));
        if (started) PQclear(started);
        return fail(ErrorCode::database, "{}", message);
    }
    PQclear(started);
    return {};
}

Result<std::optional<std::string>> Connection::receive_copy(std::chrono::milliseconds wait) {
    if (!m_broken.empty()) return fail(ErrorCode::database, "{}", m_broken);
    const auto deadline = Clock::now() + wait;
    for (;;) {
        char* buffer = nullptr;
        const int length = PQgetCopyData(m_conn, &buffer, 1);
        if (length > 0) {
            std::string out(buffer, static_cast<std::size_t>(length));
            PQfreemem(buffer);
            return std::optional<std::string>(std::move(out));
        }
        if (length == -1) {
            PGresult* res = PQgetResult(m_conn);
            std::string message =
                res && !succeeded(res) ? first_line(PQresultErrorMessage(res)) : "";
            while (res) {
                // CopyDone from the server (its timeline ended): libpq keeps answering COPY IN
                // until the client ends its side too, then the server's result follows.
                const bool copy_in = PQresultStatus(res) == PGRES_COPY_IN;
                PQclear(res);
                if (copy_in && (PQputCopyEnd(m_conn, nullptr) != 1 || PQflush(m_conn) != 0)) break;
                res = PQgetResult(m_conn);
            }
            m_broken = "the server ended the replication stream" +
                       (message.empty() ? std::string() : ": " + message);
            return fail(ErrorCode::database, "{}", m_broken);
        }
        if (length < 0) {
            m_broken = "lost the replication connection: " + first_line(PQerrorMessage(m_conn));
            return fail(ErrorCode::database, "{}", m_broken);
        }
        // Nothing buffered: wait for the socket, then let libpq read what arrived.
        if (wait_for_socket(PQsocket(m_conn), Direction::read, deadline) == SocketWait::timed_out)
            return std::optional<std::string>();
        if (PQconsumeInput(m_conn) == 0) {
            m_broken = "lost the replication connection: " + first_line(PQerrorMessage(m_conn));
            return fail(ErrorCode::database, "{}", m_broken);
        }
    }
}

Status Connection::send_copy(std::string_view message) {
    if (!m_broken.empty()) return fail(ErrorCode::database, "{}", m_broken);
    if (PQputCopyData(m_conn, message.data(), static_cast<int>(message.size())) != 1 ||
        PQflush(m_conn) != 0) {
        m_broken = "lost the replication connection: " + first_line(PQerrorMessage(m_conn));
        return fail(ErrorCode::database, "{}", m_broken);
    }
    return {};
}

std::string replication_conninfo(const std::string& conninfo, ReplicationMode mode) {
    const std::string parameter =
        mode == ReplicationMode::physical ? "replication=true" : "replication=database";
    if (conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")) {
        return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + parameter;
    }
    return conninfo + (conninfo.empty() ? "" : " ") + parameter;
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

std::string first_line(const char* libpq_message) {
    std::string text = libpq_message ? libpq_message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (auto pos = text.find('\n'); pos != std::string::npos) text.resize(pos);
    return text;
}

}  // namespace lifeboat::postgres
