// Statements sent in libpq's pipeline mode on one connection: many statements travel before the
// first answer is read, so applying many small changes costs one round trip per batch instead
// of one per statement.
//
// Contract: statements queue (prepare, execute_prepared, execute) and run in order; sync() sends
// a synchronisation point and reads every answer up to it, returning the first error (the
// server skips the rest of the batch after an error: nothing after it took effect). The caller
// syncs often enough that a batch's answers fit in the socket buffers (a few hundred
// statements), because the answers are read only at sync. run_simple() syncs, leaves pipeline
// mode for one statement in the simple protocol (which may hold several statements, as DDL text
// does) and enters it again. Errors are ErrorCode::database with the server's first line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres {

class Pipeline {
  public:
    // Enters pipeline mode on `conn`, which must stay alive and unused otherwise until the
    // pipeline is destroyed (which leaves pipeline mode after a final sync).
    static Result<Pipeline> start(Connection& conn);
    Pipeline(Pipeline&& other) noexcept : m_conn(other.m_conn), m_queued(other.m_queued) {
        other.m_conn = nullptr;
    }
    Pipeline& operator=(Pipeline&&) = delete;
    ~Pipeline();

    Status prepare(const std::string& name, const std::string& sql, int params);
    Status execute_prepared(const std::string& name,
                            const std::vector<std::optional<std::string>>& params);
    Status execute(const std::string& sql);  // one statement, no parameters
    Status sync();
    Status run_simple(const std::string& sql);
    std::size_t queued() const { return m_queued; }

  private:
    explicit Pipeline(Connection& conn) : m_conn(&conn) {}
    Status sent(int ok, std::string_view what);
    Connection* m_conn;
    std::size_t m_queued = 0;
};

}  // namespace lifeboat::postgres
