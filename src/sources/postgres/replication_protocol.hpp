// The CopyData frames of PostgreSQL's streaming replication protocol, physical and logical
// alike ("Streaming Replication Protocol"): XLogData 'w' and primary keepalive 'k' from the
// server, the standby status update 'r' to it. Pure functions: no connection, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres {

// An XLogData frame: `data` (a view into the frame) starts at WAL position `start` (physical:
// raw WAL bytes; logical: one output plugin message).
struct XLogData {
    std::uint64_t start = 0;
    std::uint64_t wal_end = 0;
    std::string_view data;
};
// A primary keepalive: the server's WAL end and whether it wants an answer now.
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

}  // namespace lifeboat::postgres
