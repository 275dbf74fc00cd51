// Samples every sequence of the database capture protects (change_log.hpp, 'S' records):
// logical decoding carries no sequence values, so capture reads them on a normal connection.
//
// The value stored is the one a crash recovery, and so a physical restore, shows for the
// sequence: PostgreSQL WAL-logs a sequence ahead of use (nextval logs last_value plus
// `log_cnt` values not yet handed out), so the recovered value is last_value + log_cnt *
// increment (with is_called true); that sum does not change between two logged fetches. A
// sequence never called (is_called false) is stored as it is. Sequences the role may not read
// are left out (one warning names them).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sources/postgres/connection.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_logical {

struct SequenceSnapshot {
    std::uint64_t lsn = 0;  // the insert position read first: every commit before it is seen
    // "<schema>\t<name>" -> the record payload "<schema>\t<name>\t<value>\t<is_called>"
    std::map<std::string, std::string> values;
    std::vector<std::string> unreadable;  // "schema.name" the role may not read
};

// A sequence as its relation and pg_sequence show it.
struct SequenceState {
    std::int64_t last_value = 0;
    std::int64_t log_cnt = 0;
    std::int64_t increment = 1;
    bool is_called = false;
};
// The value a physical restore shows (see above), saturating at the bigint range.
std::int64_t recovered_sequence_value(const SequenceState& state);

class SequenceSampler {
  public:
    static Result<SequenceSampler> open(const std::string& conninfo,
                                        std::chrono::seconds statement_timeout);
    // Reads every sequence (the list is read again each `refresh_list`-th call and on the
    // first). ErrorCode::database when the connection fails.
    Result<SequenceSnapshot> sample();
    // Runs a statement on the sampler's connection (heartbeat messages).
    Status execute(const std::string& sql) { return m_conn.execute(sql); }

  private:
    explicit SequenceSampler(postgres::Connection conn) : m_conn(std::move(conn)) {}
    struct Sequence {
        std::string schema, name, qualified;
        std::int64_t increment = 1;
        bool readable = true;
    };
    postgres::Connection m_conn;
    std::vector<Sequence> m_sequences;
    unsigned m_calls = 0;
};

}  // namespace lifeboat::postgres_logical
