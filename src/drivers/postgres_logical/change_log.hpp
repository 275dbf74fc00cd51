// The content of one logical log object (docs/repository-format.md, "Logical change log"): the
// change stream exactly as the server's pgoutput plugin sent it, so that a restore decodes what
// the server encoded, plus what that stream lacks (sequence values) and what makes each object
// decode on its own (the Relation messages its changes refer to).
//
// Object name: "logical/<start>-<end>", each a 16-digit upper-case hex LSN, so names sort in
// stream order. <start> is where the object continues the stream from: the <end> of the previous
// object of the same stream, or the slot's consistent point for the first object after a base
// backup. <end> is the position confirmed to the server once the object is stored (the end of
// its last commit). Objects chain without a gap when one's <start> is the previous one's <end>.
//
// Content (inside the repository's WAL envelope, compressed and encrypted like WAL):
//   "LBCL", u8 version (1), then records until the end, each:
//   u8 kind, u64 lsn (big-endian), u32 length (big-endian), `length` bytes of payload.
// Kinds:
//   'R' relation: a pgoutput Relation message ('R' first) the object's changes use, repeated at
//       its head so that it decodes alone, always without the transaction id a Relation
//       message inside a stream carries; lsn: where the capture last received it.
//   'M' message: one pgoutput message as received in XLogData (its type byte first: B, C, I, U,
//       D, T, M, S, E, c, A, R, Y, O); lsn: the XLogData's start position.
//   'S' sequence sample: "<schema>\t<name>\t<last_value>\t<is_called>" (is_called: t or f;
//       last_value: the value a crash recovery shows, see sequence_sampler.hpp);
//       lsn: the source's insert position when sampled (it reflects every commit before it).
//   'X' session start: the first record a capture session writes (empty payload); lsn: the
//       position it asked the server to stream from. The server then sends again every
//       transaction not committed before that position, so a reader drops the chunks of streamed
//       (and any unfinished) transactions it collected before this record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::postgres_logical {

inline constexpr std::string_view k_change_log_magic = "LBCL";
inline constexpr std::uint8_t k_change_log_version = 1;
// The prefix of the transactional messages the DDL-capture event trigger emits (setup.hpp).
inline constexpr std::string_view k_ddl_message_prefix = "lifeboat.ddl";

enum class ChangeRecordKind : std::uint8_t {
    relation = 'R',
    message = 'M',
    sequence = 'S',
    session_start = 'X',
};

// A record read from an object: `payload` views the decoded content.
struct ChangeRecordView {
    ChangeRecordKind kind = ChangeRecordKind::message;
    std::uint64_t lsn = 0;
    std::string_view payload;
};

// Builds an object's content record by record.
class ChangeLogWriter {
  public:
    ChangeLogWriter();
    void add(ChangeRecordKind kind, std::uint64_t lsn, std::string_view payload);
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

// "logical/<start>-<end>" (see above).
std::string change_log_object_name(std::uint64_t start, std::uint64_t end);

struct ChangeLogSpan {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
};
// The span a name states; nullopt for anything else (other kinds' names, malformed hex,
// end < start).
std::optional<ChangeLogSpan> parse_change_log_object_name(std::string_view name);

}  // namespace lifeboat::postgres_logical
