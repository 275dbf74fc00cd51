// The bytes of logical streaming replication that capture reads and writes (PostgreSQL's
// "Streaming Replication Protocol" and "Logical Streaming Replication Message Formats",
// pgoutput protocol version 2): the CopyData frames of START_REPLICATION (XLogData 'w', primary
// keepalive 'k', standby status update 'r') and just enough of each pgoutput message to cut the
// stream at transaction boundaries and name the relations a message uses. Pure functions: no
// connection, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sources/postgres/replication_protocol.hpp"
#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_logical {

// The replication framing is generic (sources/postgres/replication_protocol.hpp).
using postgres::from_postgres_time;
using postgres::Keepalive;
using postgres::parse_replication_frame;
using postgres::ReplicationFrame;
using postgres::standby_status_update;
using postgres::XLogData;

// Whether a message lies between a Stream Start and its Stream Stop, where changes and
// relations carry a transaction id after the type byte.
enum class InStream { no, yes };

// What a pgoutput message means for cutting the stream.
enum class MessageRole {
    begin,          // 'B'
    commit,         // 'C'
    stream_start,   // 'S'
    stream_stop,    // 'E'
    stream_commit,  // 'c'
    stream_abort,   // 'A'
    relation,       // 'R'
    change,         // 'I', 'U', 'D', 'T': uses relations
    other,          // 'Y', 'O', 'M' and anything newer
};
struct MessageFacts {
    MessageRole role = MessageRole::other;
    // Relations the message uses (change) or defines (relation).
    std::vector<std::uint32_t> relations;
    // commit, stream_commit: the end of the commit record (what a client confirms) and the
    // commit time.
    std::uint64_t end_lsn = 0;
    Timestamp commit_time;
};
// Reads `message` (a pgoutput message, type byte first). ErrorCode::database for a message too
// short for its type.
Result<MessageFacts> read_message_facts(std::string_view message, InStream in_stream);

// A Relation message as outside a stream (no transaction id), whatever it was received as: the
// form relation heads of objects take (change_log.hpp, 'R').
std::string relation_without_xid(std::string_view relation_message, InStream in_stream);

// "X/Y" as PostgreSQL prints an LSN.
std::string format_lsn_text(std::uint64_t lsn);
std::optional<std::uint64_t> parse_lsn_text(std::string_view text);

}  // namespace lifeboat::postgres_logical
