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

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_logical {

// An XLogData frame: `data` (a view into the frame) is one pgoutput message.
struct XLogData {
    std::uint64_t start = 0;
    std::uint64_t wal_end = 0;
    std::string_view data;
};
// A primary keepalive: the server's WAL end (for logical decoding: how far it has decoded and
// sent) and whether it wants an answer now.
struct Keepalive {
    std::uint64_t wal_end = 0;
    bool reply_requested = false;
};
struct ReplicationFrame {
    std::optional<XLogData> data;
    std::optional<Keepalive> keepalive;
};
// Parses one CopyData frame; ErrorCode::database for a frame that is neither, or is truncated.
Result<ReplicationFrame> parse_replication_frame(std::string_view frame);

// A standby status update confirming `flushed` as written, flushed and applied; `now` is the
// client's clock.
std::string standby_status_update(std::uint64_t flushed, Timestamp now);

// PostgreSQL's timestamps (microseconds since 2000-01-01 UTC) as Lifeboat's.
Timestamp from_postgres_time(std::int64_t micros_since_2000);

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
