// Cuts the captured change stream into log objects (change_log.hpp): the pure part of capture,
// with no connection and no clock, so that cutting, naming and relation heads are unit tested.
//
// Rules:
// - An object is cut only at a transaction boundary: outside Begin..Commit and outside Stream
//   Start..Stream Stop (so after Commit, Stream Commit, Stream Abort, at Stream Stop, or between
//   non-transactional messages).
// - Its <start> is the previous object's <end> (the first: the position given to the
//   constructor). Its <end> is the end of the last commit it holds; an object without a commit
//   (chunks of a streamed transaction cut at the size bound, a stream abort, non-transactional
//   messages) ends at `idle_end` when given, else one byte after its start, so that names stay
//   unique and ascending. Either way every commit before <end> is in this or an earlier object:
//   the server sends commits in commit order, and streamed chunks are cut only after every
//   commit decoded before them (the server decodes in WAL order and had passed the previous
//   commit by more than one byte when it streamed a chunk).
// - The first object after start_session begins with an X record; every object then begins
//   with an R record for each relation its messages use before defining it themselves (as the
//   relation stood when the object began), so that it decodes alone. R heads are stored without
//   the transaction id a Relation message inside a stream carries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/postgres_logical/change_log.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_logical {

struct CutObject {
    std::string name;  // logical/<start>-<end>
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::string content;
    std::optional<Timestamp> first_commit;
    std::optional<Timestamp> last_commit;
    std::uint64_t commits = 0;
    std::vector<Timestamp> commit_times;  // of each commit held, in stream order
    std::size_t messages = 0;
};

class ChangeLogCutter {
  public:
    explicit ChangeLogCutter(std::uint64_t start) : m_start(start) {}

    // A new session streams from `lsn`: the next object starts with an X record.
    void start_session(std::uint64_t lsn);
    // One pgoutput message received in an XLogData starting at `lsn`. ErrorCode::database for
    // a message too short for its type (nothing is added then).
    Status add_message(std::uint64_t lsn, std::string_view message);
    // One sequence sample (change_log.hpp, 'S').
    void add_sequence(std::uint64_t lsn, std::string payload);

    bool at_boundary() const { return !m_in_transaction && !m_in_stream; }
    // Pgoutput messages held (not yet cut).
    bool holds_messages() const { return m_messages > 0; }
    bool holds_commit() const { return m_commits > 0; }
    bool holds_anything() const { return !m_held.empty(); }
    std::size_t held_bytes() const { return m_held_bytes; }
    // Where the next object starts: the <end> of the last object cut.
    std::uint64_t next_start() const { return m_start; }

    // Cuts everything held into one object, or nothing (nullopt) when not at a boundary, when
    // nothing is held, or when only sequence samples are held and `idle_end` does not pass the
    // start. `idle_end`: a position the server reported while nothing was unfinished (a
    // keepalive's WAL end), used as the end of an object holding no commit.
    std::optional<CutObject> cut(std::optional<std::uint64_t> idle_end = std::nullopt);

  private:
    struct Held {
        ChangeRecordKind kind;
        std::uint64_t lsn;
        std::string payload;
    };
    struct KnownRelation {
        std::uint64_t lsn = 0;
        std::string message;  // without a transaction id
    };

    std::uint64_t m_start;
    std::optional<std::uint64_t> m_session;  // X record still to write
    bool m_in_transaction = false;
    bool m_in_stream = false;
    std::vector<Held> m_held;
    std::size_t m_held_bytes = 0;
    std::size_t m_messages = 0;
    std::uint64_t m_commits = 0;
    std::optional<std::uint64_t> m_last_commit_end;
    std::optional<Timestamp> m_first_commit;
    std::optional<Timestamp> m_last_commit;
    std::vector<Timestamp> m_commit_times;
    // The relations as last received, and as they stood when the held part began.
    std::map<std::uint32_t, KnownRelation> m_relations;
    std::map<std::uint32_t, KnownRelation> m_relations_at_start;
    std::set<std::uint32_t> m_defined_here;
    std::set<std::uint32_t> m_need_head;
};

}  // namespace lifeboat::postgres_logical
