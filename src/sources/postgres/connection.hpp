// A libpq connection with typed errors. Text-format results only: every value arrives as text,
// which is what all of Lifeboat's queries need.
#pragma once

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

class Connection {
  public:
    // conninfo is a libpq connection string or URI. Fails with ErrorCode::database and libpq's
    // own first line of explanation.
    static Result<Connection> open(const std::string& conninfo);

    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    ~Connection();

    // Runs one statement; parameters are passed separately (never interpolated into SQL).
    Result<QueryResult> query(const std::string& sql, const std::vector<std::string>& params = {});
    // Convenience: the single value of a one-row, one-column query ("" for NULL).
    Result<std::string> query_value(const std::string& sql,
                                    const std::vector<std::string>& params = {});
    Status execute(const std::string& sql);

    int server_version() const;  // e.g. 150018
    std::string database() const;

    // Quotes an identifier or literal for the rare SQL built from catalog names.
    std::string quote_identifier(const std::string& name) const;
    std::string quote_literal(const std::string& value) const;

  private:
    explicit Connection(pg_conn* conn) : m_conn(conn) {}
    pg_conn* m_conn = nullptr;
};

}  // namespace lifeboat::postgres
