// The content and naming of mongodb change-log objects (docs/repository-format.md, "mongodb
// change log"): the change stream's events exactly as the server sent them (raw BSON), so that a
// restore applies what the server described, with the position to resume the stream from.
//
// Positions are cluster times as one number: seconds << 32 | increment, the order of the
// server's oplog. Object name: "changes/<start>-<end>", each 16 upper-case hex digits, so names
// sort in stream order. <start> is where the object continues the stream from: the <end> of the
// previous object of the same chain, or the base backup's start point (backup_start_position)
// for the first object after a backup. <end> is the cluster time of its last event (or, for an
// object without events, of the resume token it stores). Events of one transaction share a
// cluster time, so an event may lie at its object's <start> when the previous object ended inside
// a transaction; every event lies in [<start>, <end>].
//
// A gap: "changes/<start>-<start>.gap", stored when the server no longer had the history after
// <start> (error 286): no chain continues past it, and the window shows it; a new base backup is
// needed.
//
// Content (inside the repository's WAL envelope, compressed and encrypted like WAL):
//   "LBMC", u8 version (1), then records until the end, each:
//   u8 kind, u64 cluster time (big-endian), i64 wall time in milliseconds since the epoch
//   (big-endian; 0 when unknown), u32 length (big-endian), `length` bytes of payload.
// Kinds:
//   'X' session start: the first record a capture session writes; payload: the resume token
//       (canonical extended JSON) it opened the stream with ("" when it started at a time);
//       cluster time: its position.
//   'E' event: one change event's BSON as received; its clusterTime, and its wallTime when the
//       server sent one (MongoDB 6.0+), else 0.
//   'T' resume token: canonical extended JSON of the token to resume from after every event
//       before it; the last record of every object that stores events (or of a token-only one).
//   'G' gap: the server's message saying why the history after the cluster time is lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::mongodb_driver {

inline constexpr std::string_view k_change_log_magic = "LBMC";
inline constexpr std::uint8_t k_change_log_version = 1;
// The prefix of every log object of this kind.
inline constexpr std::string_view k_change_log_prefix = "changes/";

enum class ChangeRecordKind : std::uint8_t {
    session_start = 'X',
    event = 'E',
    resume_token = 'T',
    gap = 'G',
};

// A record read from an object: `payload` views the decoded content.
struct ChangeRecordView {
    ChangeRecordKind kind = ChangeRecordKind::event;
    std::uint64_t cluster_time = 0;
    std::int64_t wall_ms = 0;  // 0: unknown
    std::string_view payload;
};

// Builds an object's content record by record.
class ChangeLogWriter {
  public:
    ChangeLogWriter();
    void add(ChangeRecordKind kind, std::uint64_t cluster_time, std::int64_t wall_ms,
             std::string_view payload);
    std::size_t records() const { return m_records; }
    std::size_t size() const { return m_content.size(); }
    const std::string& content() const { return m_content; }
    // Hands the content over and starts a new, empty object.
    std::string take();

  private:
    std::string m_content;
    std::size_t m_records = 0;
};

// Reads every record of `content`; ErrorCode::corrupt naming `name` for a bad magic, an unknown
// version or kind, or a record running past the end. The views point into `content`.
Result<std::vector<ChangeRecordView>> read_change_log(std::string_view content,
                                                      std::string_view name);

enum class SpanKind { events, gap };
struct ChangeLogSpan {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    SpanKind kind = SpanKind::events;
};

// "changes/<start>-<end>" (SpanKind::events) or "changes/<start>-<start>.gap".
std::string change_log_object_name(const ChangeLogSpan& span);
// The span a name states; nullopt for anything else (other kinds' names, malformed hex,
// end < start, a gap whose end is not its start).
std::optional<ChangeLogSpan> parse_change_log_object_name(std::string_view name);

// "seconds.increment" of a position, for messages.
std::string format_cluster_time(std::uint64_t position);
// The time an event happened: its wall time when known, else its cluster time's seconds.
Timestamp event_time(std::uint64_t cluster_time, std::int64_t wall_ms);

// The cluster time a resume token (canonical extended JSON, {"_data": "<hex>"}) stands at:
// MongoDB 4.2+ tokens start with 0x82 and the 8-byte big-endian timestamp. nullopt for other
// forms (older or other servers' tokens).
std::optional<std::uint64_t> resume_token_position(std::string_view token_json);

struct ChainRun {
    std::vector<std::string> objects;  // in stream order
    std::uint64_t end = 0;             // where the run ends (its last object's <end>, or `from`)
    // The run ends at a gap object (the last of `objects`): the history after `end` is lost.
    bool lost = false;
    // Objects starting after `end` exist: the run ends at a hole.
    bool hole = false;
};

// Follows this kind's objects among `names` from `from`: the object starting at `from` without
// a span (all its events at `from`) if any, then the one starting there reaching furthest (or,
// when none starts there, the one covering `from`: start < from < end), then each object
// starting where the previous one ended. A gap object ends the run.
ChainRun follow_chain(const std::vector<std::string>& names, std::uint64_t from);

}  // namespace lifeboat::mongodb_driver
