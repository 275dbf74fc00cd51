// A libpq connection with typed errors. Text-format results only: every value arrives as text,
// which is what all of Lifeboat's queries need.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

struct pg_conn;
struct pg_result;

namespace lifeboat::postgres {

// The rows of one query. A NULL value is std::nullopt.
class QueryResult {
  public:
    std::size_t rows() const { return m_rows.size(); }
    std::size_t columns() const { return m_columns.size(); }
    const std::vector<std::string>& column_names() const { return m_columns; }
    const std::optional<std::string>& at(std::size_t row, std::size_t column) const {
        return m_rows.at(row).at(column);
    }
    // Value or "" for NULL.
    std::string text(std::size_t row, std::size_t column) const {
        const auto& v = at(row, column);
        return v ? *v : std::string();
    }

  private:
    friend class Connection;
    std::vector<std::string> m_columns;
    std::vector<std::vector<std::optional<std::string>>> m_rows;
};

// Time limits of one connection, so that a server (or anything else listening on its port)
// that accepts a connection and then never answers cannot hang a command.
struct ConnectLimits {
    // How long establishing the connection (TCP, TLS, authentication, startup) may take in all.
    // A connect_timeout in the conninfo (or PGCONNECT_TIMEOUT) takes precedence; there 0 means
    // no limit, as in libpq.
    std::chrono::seconds connect{10};
    // Per statement: the server is asked to cancel a statement running longer
    // (statement_timeout), and the client stops waiting for an answer k_answer_grace later and
    // gives up on the connection. 0: no limit.
    std::chrono::seconds statement{0};
};

// Which walsender a replication connection asks for: `database` (replication=database, logical
// replication, which accepts SQL besides replication commands) or `physical` (replication=true,
// replication commands only: IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT ... PHYSICAL,
// READ_REPLICATION_SLOT, START_REPLICATION ... PHYSICAL).
enum class ReplicationMode { database, physical };

// `conninfo` (a libpq key=value string or a postgres:// URI) with the replication parameter of
// `mode` added: a walsender connection, which accepts CREATE_REPLICATION_SLOT and
// IDENTIFY_SYSTEM (simple protocol only, as Connection::query without parameters).
std::string replication_conninfo(const std::string& conninfo,
                                 ReplicationMode mode = ReplicationMode::database);

// A libpq error message's first line, without its trailing newline (libpq messages end with one
// and sometimes carry a DETAIL line); "" for null.
std::string first_line(const char* libpq_message);

// How much longer than the statement limit the client waits for the server's own cancellation.
inline constexpr std::chrono::seconds k_answer_grace{5};

class Connection {
  public:
    // conninfo is a libpq connection string or URI. Fails with ErrorCode::database and libpq's
    // own first line of explanation, or a line saying which limit ran out (naming host and
    // port, never the conninfo, which may hold a password).
    static Result<Connection> open(const std::string& conninfo, const ConnectLimits& limits = {});

    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    ~Connection();

    // Runs one statement; parameters are passed separately (never interpolated into SQL). When
    // ConnectLimits::statement ran out without an answer the connection is unusable: this and
    // every later call fail with ErrorCode::database.
    Result<QueryResult> query(const std::string& sql, const std::vector<std::string>& params = {});
    // Convenience: the single value of a one-row, one-column query ("" for NULL).
    Result<std::string> query_value(const std::string& sql,
                                    const std::vector<std::string>& params = {});
    Status execute(const std::string& sql);

    // Runs `sql`, a COPY ... TO STDOUT, and hands its output to `consume` as libpq delivers it
    // (pieces of any size, in order; binary formats included). An error from `consume` stops the
    // copy (the connection is then unusable) and is returned. Returns the bytes copied.
    Result<std::uint64_t> copy_out(const std::string& sql,
                                   const std::function<Status(std::string_view)>& consume);

    // Streaming replication (COPY BOTH), on a replication connection: `start_copy_both` sends
    // `sql` (START_REPLICATION ...) and fails with ErrorCode::database and the server's message
    // unless the server enters COPY BOTH. `receive_copy` waits up to `wait` for the next
    // CopyData message: nullopt when none arrived in time, ErrorCode::database when the server
    // ended the stream or the connection broke (the connection is then unusable).
    // `send_copy` sends one CopyData message and flushes it.
    Status start_copy_both(const std::string& sql);
    Result<std::optional<std::string>> receive_copy(std::chrono::milliseconds wait);
    Status send_copy(std::string_view message);

    int server_version() const;  // e.g. 150018
    std::string database() const;

    // Quotes an identifier or literal for the rare SQL built from catalog names.
    std::string quote_identifier(const std::string& name) const;
    std::string quote_literal(const std::string& value) const;

  private:
    friend class Pipeline;  // pipeline.hpp: batches statements on this connection
    explicit Connection(pg_conn* conn) : m_conn(conn) {}
    // The server's answer to what was sent, before the deadline (none: no limit).
    Result<pg_result*> wait_for_result(
        std::optional<std::chrono::steady_clock::time_point> deadline);
    std::string where() const;  // "host H port P", for messages

    pg_conn* m_conn = nullptr;
    std::chrono::seconds m_statement_limit{0};
    std::string m_broken;  // why the connection can no longer be used ("" while it can)
};

}  // namespace lifeboat::postgres
