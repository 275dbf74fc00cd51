#include "sources/postgres/wal.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "sources/postgres/wal_record_layout.hpp"

namespace lifeboat::postgres {

namespace {

// ---- names ---------------------------------------------------------------------------------

std::optional<std::uint64_t> parse_hex(std::string_view s, std::size_t max_digits,
                                       bool upper_only) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : s) {
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (c >= 'A' && c <= 'F') {
            digit = static_cast<unsigned>(c - 'A' + 10);
        } else if (!upper_only && c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return std::nullopt;
        }
        value = value << 4 | digit;
    }
    return value;
}

bool is_upper_hex(std::string_view s, std::size_t digits) {
    return s.size() == digits && parse_hex(s, digits, true).has_value();
}

std::uint64_t segments_per_xlogid(std::uint64_t segment_size) {
    return 0x100000000ull / segment_size;
}

// ---- WAL format (PostgreSQL 15) ----------------------------------------------------------------

constexpr std::uint16_t k_wal_page_magic = 0xD110;
constexpr std::uint16_t k_xlp_first_is_contrecord = 0x0001;
constexpr std::uint16_t k_xlp_long_header = 0x0002;
constexpr std::size_t k_short_page_header = 24;  // magic, info, tli, pageaddr, rem_len, padding
constexpr std::size_t k_long_page_header = 40;   // + system id, segment size, page size
constexpr std::size_t k_record_crc_offset = 20;
constexpr std::uint8_t k_rm_xlog = 0;
constexpr std::uint8_t k_xlog_switch = 0x40;

template <typename T>
T load(const unsigned char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);  // WAL is in the server's native byte order
    return v;
}

constexpr std::size_t align8(std::size_t n) {
    return (n + 7) & ~std::size_t{7};
}

// CRC-32C (Castagnoli, reflected), the checksum of WAL records.
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    return table;
}
constexpr auto k_crc32c_table = make_crc32c_table();

std::uint32_t crc32c_update(std::uint32_t crc, const unsigned char* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        crc = k_crc32c_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    }
    return crc;
}

// The record CRC covers the payload first, then the header up to the CRC field.
bool record_crc_ok(const std::string& record) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(record.data());
    std::uint32_t crc = 0xFFFFFFFFu;
    crc = crc32c_update(crc, bytes + k_record_header, record.size() - k_record_header);
    crc = crc32c_update(crc, bytes, k_record_crc_offset);
    return (crc ^ 0xFFFFFFFFu) == load<std::uint32_t>(bytes + k_record_crc_offset);
}

struct PageHeader {
    std::uint16_t magic = 0;
    std::uint16_t info = 0;
    std::uint64_t page_address = 0;
    std::uint32_t rem_len = 0;
    std::size_t size() const {
        return (info & k_xlp_long_header) ? k_long_page_header : k_short_page_header;
    }
};

PageHeader read_page_header(const unsigned char* p) {
    PageHeader h;
    h.magic = load<std::uint16_t>(p);
    h.info = load<std::uint16_t>(p + 2);
    h.page_address = load<std::uint64_t>(p + 8);
    h.rem_len = load<std::uint32_t>(p + 16);
    return h;
}

// The pages of one segment, with the checks that tell valid WAL from stale or foreign bytes.
class SegmentPages {
  public:
    SegmentPages(std::string_view bytes, std::size_t page_size, std::uint64_t segment_address)
        : m_bytes(bytes), m_page_size(page_size), m_segment_address(segment_address) {}

    const unsigned char* data() const {
        return reinterpret_cast<const unsigned char*>(m_bytes.data());
    }
    std::size_t size() const { return m_bytes.size(); }
    std::size_t page_size() const { return m_page_size; }

    // The header of the page starting at `offset`, if it is a WAL page of this segment at
    // that place; nullopt marks the end of valid WAL.
    std::optional<PageHeader> page(std::size_t offset) const {
        if (offset + m_page_size > m_bytes.size()) return std::nullopt;
        const PageHeader h = read_page_header(data() + offset);
        if (h.magic != k_wal_page_magic || h.page_address != m_segment_address + offset) {
            return std::nullopt;
        }
        return h;
    }

    // A continuation page of a record with `remaining` bytes still to come.
    std::optional<PageHeader> continuation_page(std::size_t offset, std::uint64_t remaining) const {
        auto h = page(offset);
        if (!h || !(h->info & k_xlp_first_is_contrecord) || h->rem_len != remaining) {
            return std::nullopt;
        }
        return h;
    }

  private:
    std::string_view m_bytes;
    std::size_t m_page_size;
    std::uint64_t m_segment_address;
};

// Where the first record starting in this segment begins, past the tail of a record continued
// from the previous segment; nullopt when no record starts in this segment.
std::optional<std::size_t> first_record_offset(const SegmentPages& pages, const PageHeader& first) {
    if (!(first.info & k_xlp_first_is_contrecord)) return first.size();
    std::uint64_t remaining = first.rem_len;
    std::size_t page_start = 0;
    std::size_t header = first.size();
    for (;;) {
        const std::size_t room = pages.page_size() - header;
        if (remaining <= room) return align8(page_start + header + remaining);
        remaining -= room;
        page_start += pages.page_size();
        const auto next = pages.continuation_page(page_start, remaining);
        if (!next) return std::nullopt;
        header = next->size();
    }
}

// Reads the record of `total` bytes starting at `offset`, across page headers, into `record`.
// For the walk that also wants the record continuing into the next segment: `complete` false
// when the segment ended first (what it holds of the record is in `record`).
struct RecordRead {
    std::size_t end = 0;
    bool complete = true;
};
std::optional<RecordRead> read_record_or_head(const SegmentPages& pages, std::size_t offset,
                                              std::size_t total, std::string& record) {
    record.clear();
    std::size_t remaining = total;
    while (remaining > 0) {
        if (offset >= pages.size()) return RecordRead{offset, false};
        if (offset % pages.page_size() == 0) {
            const auto h = pages.continuation_page(offset, remaining);
            if (!h) return std::nullopt;
            offset += h->size();
        }
        const std::size_t page_end = (offset / pages.page_size() + 1) * pages.page_size();
        const std::size_t n = std::min(remaining, page_end - offset);
        record.append(reinterpret_cast<const char*>(pages.data()) + offset, n);
        offset += n;
        remaining -= n;
    }
    return RecordRead{offset, true};
}

// Reassembles the record of `total` bytes starting at `offset` into `record`, skipping page
// headers. Returns the offset just past it, or nullopt if it does not lie wholly and validly
// in this segment.
std::optional<std::size_t> read_record(const SegmentPages& pages, std::size_t offset,
                                       std::size_t total, std::string& record) {
    const auto read = read_record_or_head(pages, offset, total, record);
    if (!read || !read->complete) return std::nullopt;
    return read->end;
}

// Appends to `record` what the first pages of the next segment (`head`, whole pages) hold of its
// `remaining` bytes; true when all of them were there.
bool continue_record(std::string_view head, std::size_t page_size, std::uint64_t address,
                     std::size_t remaining, std::string& record) {
    if (head.empty()) return false;
    const SegmentPages pages(head, page_size, address);
    std::size_t offset = 0;
    while (remaining > 0) {
        if (offset >= pages.size()) return false;
        if (offset % page_size == 0) {
            const auto h = pages.continuation_page(offset, remaining);
            if (!h) return false;
            offset += h->size();
        }
        const std::size_t page_end = (offset / page_size + 1) * page_size;
        const std::size_t n = std::min(remaining, page_end - offset);
        record.append(head.data() + offset, n);
        offset += n;
        remaining -= n;
    }
    return true;
}

// The xact_time of a commit/abort record, from the first 8 bytes of its main data. The main data
// follows the chain of headers after the fixed record header; records with block references
// are not transaction end records and are skipped.
std::optional<std::int64_t> transaction_end_time(const std::string& record) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(record.data());
    std::size_t at = k_record_header;
    std::size_t main_length = 0;
    for (;;) {
        if (at >= record.size()) return std::nullopt;  // no main data
        const std::uint8_t id = bytes[at++];
        if (id == k_block_id_data_short) {
            if (at + 1 > record.size()) return std::nullopt;
            main_length = bytes[at];
            at += 1;
            break;
        }
        if (id == k_block_id_data_long) {
            if (at + 4 > record.size()) return std::nullopt;
            main_length = load<std::uint32_t>(bytes + at);
            at += 4;
            break;
        }
        if (id == k_block_id_origin) {
            at += 2;
        } else if (id == k_block_id_toplevel_xid) {
            at += 4;
        } else {
            return std::nullopt;  // a block reference (ids 0..32): not a transaction end record
        }
    }
    if (main_length < 8 || at + main_length != record.size()) return std::nullopt;
    return load<std::int64_t>(bytes + at);
}

bool is_transaction_end(std::uint8_t rmid, std::uint8_t info) {
    if (rmid != k_rm_xact) return false;
    const std::uint8_t op = info & k_xact_opmask;
    return op == 0x00 || op == 0x20 || op == 0x30 || op == 0x40;  // commit, abort, *_prepared
}

void add_time(WalCommitSpan& span, std::int64_t postgres_micros) {
    const Timestamp t = from_postgres_micros(postgres_micros);
    if (!span.first_commit || t < *span.first_commit) span.first_commit = t;
    if (!span.last_commit || t > *span.last_commit) span.last_commit = t;
    ++span.commits;
}

}  // namespace

// ---- public: positions and names ---------------------------------------------------------------

std::optional<Lsn> parse_lsn(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto high = parse_hex(text.substr(0, slash), 8, false);
    const auto low = parse_hex(text.substr(slash + 1), 8, false);
    if (!high || !low) return std::nullopt;
    return Lsn{*high << 32 | *low};
}

std::string format_lsn(Lsn lsn) {
    return fmt::format("{:X}/{:X}", lsn.value >> 32, lsn.value & 0xFFFFFFFFu);
}

bool is_valid_wal_segment_size(std::uint64_t segment_size) {
    return segment_size >= (1ull << 20) && segment_size <= (1ull << 30) &&
           (segment_size & (segment_size - 1)) == 0;
}

std::string wal_file_name(WalSegment segment, std::uint64_t segment_size) {
    const std::uint64_t per_xlogid = segments_per_xlogid(segment_size);
    return fmt::format("{:08X}{:08X}{:08X}", segment.timeline, segment.segno / per_xlogid,
                       segment.segno % per_xlogid);
}

std::optional<WalSegment> parse_wal_file_name(std::string_view name, std::uint64_t segment_size) {
    if (!is_valid_wal_segment_size(segment_size) || !is_upper_hex(name, 24)) return std::nullopt;
    const std::uint64_t timeline = *parse_hex(name.substr(0, 8), 8, true);
    const std::uint64_t xlogid = *parse_hex(name.substr(8, 8), 8, true);
    const std::uint64_t low = *parse_hex(name.substr(16, 8), 8, true);
    const std::uint64_t per_xlogid = segments_per_xlogid(segment_size);
    if (low >= per_xlogid) return std::nullopt;
    return WalSegment{static_cast<std::uint32_t>(timeline), xlogid * per_xlogid + low};
}

WalSegment segment_of(Lsn lsn, std::uint32_t timeline, std::uint64_t segment_size) {
    return WalSegment{timeline, lsn.value / segment_size};
}

Lsn segment_start(WalSegment segment, std::uint64_t segment_size) {
    return Lsn{segment.segno * segment_size};
}

WalFileKind classify_wal_file(std::string_view name) {
    if (is_upper_hex(name, 24)) return WalFileKind::segment;
    if (name.size() == 32 && name.ends_with(".partial") && is_upper_hex(name.substr(0, 24), 24)) {
        return WalFileKind::partial;
    }
    if (name.size() == 16 && name.ends_with(".history") && is_upper_hex(name.substr(0, 8), 8)) {
        return WalFileKind::history;
    }
    if (name.size() == 40 && name.ends_with(".backup") && name[24] == '.' &&
        is_upper_hex(name.substr(0, 24), 24) && is_upper_hex(name.substr(25, 8), 8)) {
        return WalFileKind::backup_label;
    }
    return WalFileKind::unknown;
}

// ---- public: commit times ---------------------------------------------------------------------

namespace {
// Where a walk starts again (scan_commit_times_from), with what it found before.
struct Resume {
    std::size_t offset = 0;
    WalCommitSpan so_far;
};
Result<WalCommitSpan> scan_segment(std::string_view segment_bytes, std::optional<Lsn> before,
                                   std::optional<Resume> resume = std::nullopt);
}  // namespace

Result<WalCommitSpan> scan_commit_times(std::string_view segment_bytes) {
    return scan_segment(segment_bytes, std::nullopt);
}

Result<WalCommitSpan> scan_commit_times_before(std::string_view segment_bytes, Lsn before) {
    return scan_segment(segment_bytes, before);
}

Result<WalCommitSpan> scan_commit_times_from(std::string_view segment_bytes,
                                             const WalCommitSpan& so_far) {
    if (!so_far.valid_end) return scan_segment(segment_bytes, std::nullopt);
    return scan_segment(segment_bytes, std::nullopt,
                        Resume{static_cast<std::size_t>(align8(*so_far.valid_end)), so_far});
}

namespace {

// Both scans: records starting at or after `before` (when given) end the walk.
Result<WalCommitSpan> scan_segment(std::string_view segment_bytes, std::optional<Lsn> before,
                                   std::optional<Resume> resume) {
    const WalSegmentHeader header = LB_TRY(read_segment_header(segment_bytes));
    if (segment_bytes.size() != header.segment_size) {
        return fail(ErrorCode::corrupt, "WAL segment is {} bytes, its header says {}",
                    segment_bytes.size(), header.segment_size);
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(segment_bytes.data());
    const PageHeader first = read_page_header(bytes);
    const std::uint64_t page_size = header.page_size;

    const SegmentPages pages(segment_bytes, page_size, first.page_address);
    WalCommitSpan span = resume ? resume->so_far : WalCommitSpan{};
    const auto start =
        resume ? std::optional<std::size_t>(resume->offset) : first_record_offset(pages, first);
    if (!start || *start >= segment_bytes.size()) return span;
    std::size_t offset = *start;
    std::string record;
    for (;;) {
        if (offset % page_size == 0) {
            // A record boundary falls on a page boundary: the record starts after the header.
            const auto h = pages.page(offset);
            if (!h || (h->info & k_xlp_first_is_contrecord)) break;
            offset += h->size();
        }
        if (before && first.page_address + offset >= before->value) break;
        const std::uint32_t total = load<std::uint32_t>(bytes + offset);
        if (total < k_record_header || total > segment_bytes.size() - offset) break;
        const auto end = read_record(pages, offset, total, record);
        if (!end || !record_crc_ok(record)) break;
        span.valid_end = *end;

        const auto info = static_cast<std::uint8_t>(record[16]);
        const auto rmid = static_cast<std::uint8_t>(record[17]);
        if (is_transaction_end(rmid, info)) {
            if (const auto t = transaction_end_time(record)) {
                add_time(span, *t);
                span.last_end = Lsn{first.page_address + offset};
            }
        }
        if (rmid == k_rm_xlog && (info & 0xF0) == k_xlog_switch) break;  // rest is padding
        offset = align8(*end);
        if (offset >= segment_bytes.size()) break;
    }
    return span;
}

}  // namespace

Result<WalRecordWalk> walk_wal_records(std::string_view segment_bytes, std::optional<Lsn> before,
                                       const std::function<void(const WalRecordRef&)>& visit,
                                       std::string_view next_segment_head) {
    const WalSegmentHeader header = LB_TRY(read_segment_header(segment_bytes));
    // With `before`, a prefix that reaches it is enough (the live segment is read only so far).
    if (before ? segment_bytes.size() > header.segment_size
               : segment_bytes.size() != header.segment_size) {
        return fail(ErrorCode::corrupt, "WAL segment is {} bytes, its header says {}",
                    segment_bytes.size(), header.segment_size);
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(segment_bytes.data());
    const PageHeader first = read_page_header(bytes);
    const std::uint64_t page_size = header.page_size;
    const SegmentPages pages(segment_bytes, page_size, first.page_address);
    WalRecordWalk walk{WalWalkEnd::invalid_record, Lsn{first.page_address}};
    const auto start = first_record_offset(pages, first);
    if (!start) {
        // One record fills the whole segment: nothing starts here.
        walk.end = WalWalkEnd::segment_end;
        walk.end_lsn = Lsn{first.page_address + segment_bytes.size()};
        return walk;
    }
    std::size_t offset = *start;
    std::string record;
    for (;;) {
        if (offset >= segment_bytes.size()) {
            walk.end = WalWalkEnd::segment_end;
            break;
        }
        if (offset % page_size == 0) {
            const auto h = pages.page(offset);
            if (!h || (h->info & k_xlp_first_is_contrecord)) break;
            offset += h->size();
        }
        walk.end_lsn = Lsn{first.page_address + offset};
        if (before && first.page_address + offset >= before->value) {
            walk.end = WalWalkEnd::before_reached;
            return walk;
        }
        if (offset + 4 > segment_bytes.size()) break;
        const std::uint32_t total = load<std::uint32_t>(bytes + offset);
        if (total < k_record_header) break;
        const auto read = read_record_or_head(pages, offset, total, record);
        if (!read) break;
        if (!read->complete) {
            // Continues into the next segment: its head (where block references are) is here,
            // and the rest of it in the next segment's first pages when the caller has them.
            if (record.size() < k_record_header) {
                // The fixed header itself is cut: the length read above is all we know.
                if (next_segment_head.empty()) break;
            }
            const std::size_t have = record.size();
            const bool whole =
                continue_record(next_segment_head, page_size,
                                first.page_address + segment_bytes.size(), total - have, record);
            if (record.size() < k_record_header) break;
            const bool complete = whole && record_crc_ok(record);
            visit({Lsn{first.page_address + offset}, record, complete});
            walk.end = WalWalkEnd::segment_end;
            break;
        }
        if (!record_crc_ok(record)) break;
        visit({Lsn{first.page_address + offset}, record, true});
        const auto info = static_cast<std::uint8_t>(record[16]);
        const auto rmid = static_cast<std::uint8_t>(record[17]);
        if (rmid == k_rm_xlog && (info & 0xF0) == k_xlog_switch) {
            walk.end = WalWalkEnd::switch_record;
            walk.end_lsn = Lsn{first.page_address + read->end};
            return walk;
        }
        offset = align8(read->end);
    }
    walk.end_lsn = Lsn{first.page_address + std::min(offset, segment_bytes.size())};
    return walk;
}

}  // namespace lifeboat::postgres

// ---- public: checks of archived files
// ------------------------------------------------------------

namespace lifeboat::postgres {

Result<WalSegmentHeader> read_segment_header(std::string_view segment_bytes) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(segment_bytes.data());
    if (segment_bytes.size() < k_long_page_header) {
        return fail(ErrorCode::corrupt, "WAL segment is {} bytes, too short for a page header",
                    segment_bytes.size());
    }
    const PageHeader first = read_page_header(bytes);
    if (first.magic != k_wal_page_magic) {
        return fail(ErrorCode::corrupt,
                    "not a PostgreSQL 15 WAL segment: page magic 0x{:04X}, expected 0x{:04X}",
                    first.magic, k_wal_page_magic);
    }
    if (!(first.info & k_xlp_long_header)) {
        return fail(ErrorCode::corrupt, "WAL segment does not start with a long page header");
    }
    WalSegmentHeader header;
    header.timeline = load<std::uint32_t>(bytes + 4);
    header.page_address = first.page_address;
    header.system_identifier = load<std::uint64_t>(bytes + 24);
    header.segment_size = load<std::uint32_t>(bytes + 32);
    header.page_size = load<std::uint32_t>(bytes + 36);
    if (!is_valid_wal_segment_size(header.segment_size) || header.page_size < 1024 ||
        header.page_size > 65536 || (header.page_size & (header.page_size - 1)) != 0 ||
        header.page_address % header.segment_size != 0) {
        return fail(ErrorCode::corrupt,
                    "implausible WAL segment header: segment size {}, page size {}, address {}",
                    header.segment_size, header.page_size, format_lsn(Lsn{header.page_address}));
    }
    return header;
}

Result<WalPageTimelines> check_segment_pages(std::string_view segment_bytes, WalSegment expected,
                                             SegmentCompleteness completeness) {
    const WalSegmentHeader header = LB_TRY(read_segment_header(segment_bytes));
    const bool partial = completeness == SegmentCompleteness::partial;
    if (partial ? segment_bytes.size() > header.segment_size
                : segment_bytes.size() != header.segment_size) {
        return fail(ErrorCode::corrupt, "WAL segment is {} bytes, its header says {}",
                    segment_bytes.size(), header.segment_size);
    }
    const std::uint64_t start = segment_start(expected, header.segment_size).value;
    if (header.page_address != start) {
        const WalSegment actual =
            segment_of(Lsn{header.page_address}, header.timeline, header.segment_size);
        return fail(ErrorCode::corrupt,
                    "the segment's first page is at {} (segment {}), not at {} where its name "
                    "places it",
                    format_lsn(Lsn{header.page_address}),
                    wal_file_name(actual, header.segment_size), format_lsn(Lsn{start}));
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(segment_bytes.data());
    WalPageTimelines timelines{header.timeline, header.timeline};
    for (std::size_t offset = 0; offset + k_short_page_header <= segment_bytes.size();
         offset += header.page_size) {
        const PageHeader page = read_page_header(bytes + offset);
        const auto timeline = load<std::uint32_t>(bytes + offset + 4);
        const bool ours = page.magic == k_wal_page_magic && page.page_address == start + offset;
        if (!ours) {
            if (partial) break;  // the end of the timeline: what follows is not its WAL
            if (page.magic == 0 && page.info == 0 && timeline == 0 && page.page_address == 0) {
                continue;  // zeroed by the server after an XLOG_SWITCH record
            }
            return fail(ErrorCode::corrupt,
                        "page at offset {} is not WAL of this segment (magic 0x{:04X}, address "
                        "{}, expected {})",
                        offset, page.magic, format_lsn(Lsn{page.page_address}),
                        format_lsn(Lsn{start + offset}));
        }
        if (timeline < timelines.last || timeline > expected.timeline) {
            return fail(ErrorCode::corrupt,
                        "page at offset {} belongs to timeline {}, which does not fit timeline "
                        "{} of the file name (after timeline {} on earlier pages)",
                        offset, timeline, expected.timeline, timelines.last);
        }
        timelines.last = timeline;
    }
    return timelines;
}

Status check_backup_history(std::string_view text, std::string_view file_name) {
    constexpr std::string_view k_prefix = "START WAL LOCATION: ";
    const std::string_view line = text.substr(0, text.find('\n'));
    const auto open = line.find(" (file ");
    if (!line.starts_with(k_prefix) || open == std::string_view::npos || !line.ends_with(")") ||
        file_name.size() < 33) {
        return fail(ErrorCode::corrupt,
                    "not a backup history file: the first line is not 'START WAL LOCATION: X/Y "
                    "(file NAME)'");
    }
    const auto lsn = parse_lsn(line.substr(k_prefix.size(), open - k_prefix.size()));
    const std::string_view segment = line.substr(open + 7, line.size() - open - 8);
    const auto offset = parse_hex(file_name.substr(25, 8), 8, true);
    // Every valid segment size is a multiple of 1 MiB, so the offset agrees below 1 MiB.
    constexpr std::uint64_t k_mib = 1u << 20;
    if (!lsn || !offset || segment != file_name.substr(0, 24) ||
        lsn->value % k_mib != *offset % k_mib) {
        return fail(ErrorCode::corrupt,
                    "backup history file describes '{}', which does not match its name",
                    line.substr(k_prefix.size()));
    }
    return {};
}

}  // namespace lifeboat::postgres
