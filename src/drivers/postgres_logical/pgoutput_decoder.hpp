// Decodes the records of logical change log objects (change_log.hpp) into whole source
// transactions in commit order: pure, no database. The pgoutput messages are read as protocol
// version 2 defines them (PostgreSQL's "Logical Replication Message Formats"): Begin, Commit,
// Origin, Relation, Type, Insert, Update, Delete, Truncate, Message, and the streaming messages
// Stream Start/Stop/Commit/Abort, whose changes carry the xid of their (sub)transaction.
//
// Contract:
// - A transaction is emitted at its Commit (or Stream Commit) with the commit LSN, the end LSN
//   and the commit time; its changes in the order the server sent them.
// - Streamed transactions are assembled by top-level xid across any number of stream blocks;
//   a Stream Abort drops the whole transaction (xid == subxid) or the changes of that
//   subtransaction only.
// - A session start record ('X') drops everything unfinished: the open non-streamed
//   transaction and every streamed transaction not committed yet (the server sends them again).
// - Each change holds the relation definition in force when it was decoded, so a later
//   Relation message (after DDL) does not change how an earlier change is applied.
// - Logical messages with the prefix "lifeboat.ddl" become DDL changes (the statement); other
//   prefixes are ignored.
// - 'S' records become sequence samples; 'R' records update the relation definitions.
// - Bad bytes: ErrorCode::corrupt naming the object and the record's LSN; never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/postgres_logical/change_log.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_logical {

struct RelationColumn {
    std::string name;
    std::uint32_t type_oid = 0;
    std::int32_t type_modifier = -1;
    bool is_key = false;  // part of the replica identity
};

struct Relation {
    std::uint32_t oid = 0;
    std::string schema;
    std::string name;
    char replica_identity = 'd';  // d default, n nothing, f full, i index
    std::vector<RelationColumn> columns;
};

enum class ValueKind : char { null = 'n', unchanged_toast = 'u', text = 't' };

struct ColumnValue {
    ValueKind kind = ValueKind::null;
    std::string text;  // ValueKind::text only
};
using Tuple = std::vector<ColumnValue>;

enum class ChangeAction { insert, update, remove, truncate, ddl };
// Which old tuple an Update or Delete carried: none (the key did not change), the replica
// identity key columns ('K', other columns null), or the whole old row ('O', identity full).
enum class OldTuple { none, key, full };

struct Change {
    ChangeAction action = ChangeAction::insert;
    std::uint32_t xid = 0;                     // the (sub)transaction inside a stream; 0 otherwise
    std::shared_ptr<const Relation> relation;  // insert, update, remove
    OldTuple old_kind = OldTuple::none;
    Tuple old_values;
    Tuple new_values;
    // truncate: the relations and the options (1: CASCADE, 2: RESTART IDENTITY)
    std::vector<std::shared_ptr<const Relation>> truncated;
    std::uint8_t truncate_options = 0;
    std::string ddl;  // the statement of a lifeboat.ddl message
};

struct Transaction {
    std::uint32_t xid = 0;
    std::uint64_t commit_lsn = 0;
    std::uint64_t end_lsn = 0;
    Timestamp commit_time;
    std::vector<Change> changes;
};

struct SequenceSample {
    std::string schema;
    std::string name;
    std::string last_value;
    bool is_called = false;
    std::uint64_t lsn = 0;  // every commit before it is reflected
};

class PgoutputDecoder {
  public:
    // Decodes every record of one object's content, in order. `object` names it in errors.
    Status add_object(std::string_view content, std::string_view object);
    // Decodes one record.
    Status add(const ChangeRecordView& record, std::string_view object);

    // The transactions committed so far, in commit order; handed over.
    std::vector<Transaction> take_committed();
    // Every sequence sample so far, in log order.
    const std::vector<SequenceSample>& sequences() const { return m_sequences; }
    // Transactions begun or streamed but not committed (for tests and diagnostics).
    std::size_t unfinished() const { return m_streams.size() + (m_open ? 1 : 0); }

  private:
    Status add_message(std::string_view message, std::uint64_t lsn, std::string_view object);
    // Whether a Relation message starts with an xid: as the stream state says (a message), or
    // either way, without first, then with (a head record, see add_relation).
    enum class XidPrefix { in_stream, either };
    Status add_relation(std::string_view message, std::string_view object, std::uint64_t lsn,
                        XidPrefix xid);
    static std::optional<std::shared_ptr<const Relation>> parse_relation(std::string_view message,
                                                                         bool with_xid);
    // Where a change decoded now belongs: the open transaction or the current stream's.
    Transaction* current();

    std::map<std::uint32_t, std::shared_ptr<const Relation>> m_relations;
    std::optional<Transaction> m_open;               // between Begin and Commit
    std::map<std::uint32_t, Transaction> m_streams;  // by top-level xid
    std::optional<std::uint32_t> m_streaming;        // between Stream Start and Stop
    std::vector<Transaction> m_committed;
    std::vector<SequenceSample> m_sequences;
};

}  // namespace lifeboat::postgres_logical
