// WAL positions, WAL file names and segment arithmetic, and a reader that finds the transaction
// end times inside one WAL segment (what recovery_target_time is compared against).
// Formats are those of PostgreSQL 15 (WAL page magic 0xD110).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres {

// A WAL position (pg_lsn).
struct Lsn {
    std::uint64_t value = 0;
    auto operator<=>(const Lsn&) const = default;
};

// "16/B374D848": two hexadecimal numbers of 1 to 8 digits (either case) around a slash.
std::optional<Lsn> parse_lsn(std::string_view text);
// Upper-case hex without padding, as PostgreSQL prints it: "16/B374D848", "0/0".
std::string format_lsn(Lsn lsn);

inline constexpr std::uint64_t k_default_wal_segment_size = 16ull * 1024 * 1024;

// A power of two from 1 MiB to 1 GiB (initdb --wal-segsize). The functions below taking a
// segment_size require a valid one; the parse functions return nullopt for an invalid one.
bool is_valid_wal_segment_size(std::uint64_t segment_size);

// One WAL segment file: segno counts segments from LSN 0 (segno * segment_size = start LSN).
struct WalSegment {
    std::uint32_t timeline = 1;
    std::uint64_t segno = 0;
    auto operator<=>(const WalSegment&) const = default;
};

// "TTTTTTTTXXXXXXXXYYYYYYYY" (upper-case hex): timeline, segno / segments-per-xlogid,
// segno % segments-per-xlogid, where segments-per-xlogid = 2^32 / segment_size.
std::string wal_file_name(WalSegment segment, std::uint64_t segment_size);
// Inverse of wal_file_name: exactly 24 upper-case hex digits with a low part below
// segments-per-xlogid; nullopt otherwise.
std::optional<WalSegment> parse_wal_file_name(std::string_view name, std::uint64_t segment_size);
// The segment holding `lsn`.
WalSegment segment_of(Lsn lsn, std::uint32_t timeline, std::uint64_t segment_size);
// The first position of `segment`.
Lsn segment_start(WalSegment segment, std::uint64_t segment_size);

enum class WalFileKind {
    segment,       // "000000010000000000000003"
    partial,       // "000000010000000000000003.partial" (end of a timeline, from promotion)
    history,       // "00000002.history"
    backup_label,  // "000000010000000000000003.00000028.backup" (backup history file)
    unknown,
};
// Classifies a file name from pg_wal or a WAL archive (upper-case hex only, as PostgreSQL
// writes them).
WalFileKind classify_wal_file(std::string_view name);

// The long page header that starts every WAL segment (XLogLongPageHeaderData).
struct WalSegmentHeader {
    std::uint32_t timeline = 0;           // xlp_tli of the first page
    std::uint64_t page_address = 0;       // xlp_pageaddr: the segment's first LSN
    std::uint64_t system_identifier = 0;  // xlp_sysid: the cluster that wrote it
    std::uint64_t segment_size = 0;       // xlp_seg_size
    std::uint32_t page_size = 0;          // xlp_xlog_blcksz
};

// Reads the long header of a segment's first page. ErrorCode::corrupt when the bytes do not start
// with a PostgreSQL 15 long page header with plausible sizes.
Result<WalSegmentHeader> read_segment_header(std::string_view segment_bytes);

// Whether a segment file is complete (archived when full or switched) or the `.partial` copy of a
// timeline's last segment, whose tail after the end of the timeline may hold stale bytes.
enum class SegmentCompleteness { complete, partial };

// Timelines found on the pages of a segment; pages copied from the parent timeline at a timeline
// switch carry the parent's, so `first` may be below the file's timeline.
struct WalPageTimelines {
    std::uint32_t first = 0;  // on the first page
    std::uint32_t last = 0;   // on the last page that has a header
};

// Checks that `segment_bytes` is the segment `expected` names: its size is the header's segment
// size (for a complete segment), every page address is the one its place in `expected` gives, and
// page timelines never decrease nor exceed expected.timeline. A complete segment may have pages
// whose header is zeroed (the rest of a segment ended by pg_switch_wal); a partial one is checked
// up to its first page that is not WAL of this segment. ErrorCode::corrupt naming the first
// mismatch otherwise.
Result<WalPageTimelines> check_segment_pages(std::string_view segment_bytes, WalSegment expected,
                                             SegmentCompleteness completeness);

// Checks a backup history file ("...00000028.backup"): text whose first line is
// "START WAL LOCATION: X/Y (file <segment>)" naming the segment of its file name, at the offset
// its file name gives. ErrorCode::corrupt otherwise.
Status check_backup_history(std::string_view text, std::string_view file_name);

// Transaction end times found in a segment: commits and aborts, including those of prepared
// transactions — the records recovery_target_time stops at.
struct WalCommitSpan {
    std::optional<Timestamp> first_commit;  // earliest time of such a record
    std::optional<Timestamp> last_commit;   // latest time of such a record
    std::uint64_t commits = 0;              // how many such records (aborts included)
    std::optional<Lsn> last_end;            // where the last such record (by position) starts
    // The offset in the segment just after the last complete, valid record the walk read (any
    // record, not only transaction ends); nullopt when none ends in the segment.
    std::optional<std::uint64_t> valid_end;
};

// Walks the records of one complete WAL segment file (its whole content) and collects the
// times of transaction end records that lie wholly in it. The tail of a record continued from
// the previous segment is skipped, and a record continuing into the next segment is ignored: a
// transaction end record straddling two segments (rare: they are small) is counted by neither.
// Reading stops, as recovery would, at the end of valid WAL: a zero length, an XLOG_SWITCH
// record, a page header that does not belong to this segment, or a record whose CRC-32C does
// not match. Fails with ErrorCode::corrupt when the first page is not a PostgreSQL 15 WAL page
// (bad magic, missing long header, implausible sizes) or the data is shorter than the segment
// size the header declares.
Result<WalCommitSpan> scan_commit_times(std::string_view segment_bytes);

// Continues the walk of scan_commit_times where `so_far` (its result on an earlier, shorter
// prefix of the same segment, zero-filled) ended: at the record after so_far.valid_end, adding
// what it finds to so_far. What wal-stream uses at each flush, so that a flush costs the new
// bytes, not the whole segment. From the start when so_far has no valid_end.
Result<WalCommitSpan> scan_commit_times_from(std::string_view segment_bytes,
                                             const WalCommitSpan& so_far);

// As scan_commit_times, counting only records that start before `before`: in the segment
// holding a timeline switch, the transaction ends the parent and the child share.
Result<WalCommitSpan> scan_commit_times_before(std::string_view segment_bytes, Lsn before);

// One record met by walk_wal_records: where it starts and its bytes (header included).
struct WalRecordRef {
    Lsn lsn;
    std::string_view bytes;
    // false for the record continuing into the next segment: `bytes` holds only its head (at
    // least the fixed header), and its CRC-32C could not be checked.
    bool complete = true;
};

enum class WalWalkEnd {
    segment_end,     // every record of the segment was visited
    switch_record,   // an XLOG_SWITCH record ended it (the rest is padding)
    before_reached,  // the next record starts at or after `before`
    invalid_record,  // a record that is not valid WAL (zero length, bad CRC, foreign page)
};

struct WalRecordWalk {
    WalWalkEnd end = WalWalkEnd::invalid_record;
    Lsn end_lsn;  // where the walk stopped
};

// Visits every record that starts in one WAL segment (the whole file, as archived or as it lies
// in pg_wal), in order, stopping as recovery would at the end of valid WAL, and at `before` when
// given. The tail of a record continued from the previous segment is skipped (its head was in
// that segment). The record continuing into the next segment is completed from
// `next_segment_head` (the next segment's first whole pages) as far as they reach, and visited
// complete if they hold all of it. With `before`, `segment_bytes` may be a prefix of the segment
// (whole pages past `before`). ErrorCode::corrupt as scan_commit_times for a file that is not a
// segment.
Result<WalRecordWalk> walk_wal_records(std::string_view segment_bytes, std::optional<Lsn> before,
                                       const std::function<void(const WalRecordRef&)>& visit,
                                       std::string_view next_segment_head = {});

}  // namespace lifeboat::postgres
