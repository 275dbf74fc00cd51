#include "sources/postgres/wal_summary.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sources/postgres/relation_file.hpp"
#include "sources/postgres/wal_record_layout.hpp"
#include "util/endian.hpp"

namespace lifeboat::postgres {

namespace {

// ---- PostgreSQL 15 record layout (access/xlogrecord.h and the resource managers' headers) ----

constexpr std::uint8_t k_xlr_special_rel_update = 0x01;
constexpr std::uint8_t k_max_block_id = 32;
constexpr std::uint8_t k_bkpblock_fork_mask = 0x0F;
constexpr std::uint8_t k_bkpblock_has_image = 0x10;
constexpr std::uint8_t k_bkpblock_same_rel = 0x80;
constexpr std::uint8_t k_bkpimage_has_hole = 0x01;
constexpr std::uint8_t k_bkpimage_compressed = 0x04 | 0x08 | 0x10;  // pglz, lz4, zstd

constexpr std::uint8_t k_rm_smgr = 2;
constexpr std::uint8_t k_rm_dbase = 4;
constexpr std::uint8_t k_rm_tblspc = 5;
constexpr std::uint8_t k_smgr_create = 0x10;
constexpr std::uint8_t k_smgr_truncate = 0x20;
constexpr std::uint8_t k_xact_has_info = 0x80;
constexpr std::uint32_t k_xinfo_has_dbinfo = 1u << 0;
constexpr std::uint32_t k_xinfo_has_subxacts = 1u << 1;
constexpr std::uint32_t k_xinfo_has_relfilenodes = 1u << 2;

// Bounded little-endian reads over one record (WAL is in the server's byte order; Lifeboat runs
// beside the server, and both are little-endian on every platform PostgreSQL packages for).
class Cursor {
  public:
    explicit Cursor(std::string_view bytes, std::size_t at = 0) : m_bytes(bytes), m_at(at) {}
    bool has(std::size_t n) const { return m_at <= m_bytes.size() && m_bytes.size() - m_at >= n; }
    std::size_t at() const { return m_at; }
    std::optional<std::uint8_t> u8() { return take<std::uint8_t>(); }
    std::optional<std::uint16_t> u16() { return take<std::uint16_t>(); }
    std::optional<std::uint32_t> u32() { return take<std::uint32_t>(); }
    bool skip(std::size_t n) {
        if (!has(n)) return false;
        m_at += n;
        return true;
    }

  private:
    template <typename T>
    std::optional<T> take() {
        if (!has(sizeof(T))) return std::nullopt;
        T v = get_le<T>(m_bytes, m_at);
        m_at += sizeof(T);
        return v;
    }
    std::string_view m_bytes;
    std::size_t m_at;
};

// What one record says, before it is added to a summary.
struct Collector {
    std::vector<std::pair<RelationFork, std::uint32_t>> blocks;
    std::vector<RelationFork> whole_relations;  // fork k_every_fork
    std::vector<std::uint32_t> whole_databases;
    bool whole_cluster = false;
    bool incomplete = false;
};

std::optional<RelationFork> read_relfilenode(Cursor& c) {
    const auto spc = c.u32();
    const auto db = c.u32();
    const auto rel = c.u32();
    if (!spc || !db || !rel) return std::nullopt;
    return RelationFork{*spc, *db, *rel, k_every_fork};
}

// The relations a commit or abort record drops (xl_xact_commit / xl_xact_abort and their
// prepared variants share the layout up to the relfilenodes).
bool collect_dropped(std::string_view main, std::uint8_t info, Collector& out) {
    Cursor c(main);
    if (!c.skip(8)) return false;  // xact_time
    std::uint32_t xinfo = 0;
    if (info & k_xact_has_info) {
        const auto v = c.u32();
        if (!v) return false;
        xinfo = *v;
    }
    if ((xinfo & k_xinfo_has_dbinfo) && !c.skip(8)) return false;
    if (xinfo & k_xinfo_has_subxacts) {
        const auto n = c.u32();
        if (!n || !c.skip(std::size_t{*n} * 4)) return false;
    }
    if (xinfo & k_xinfo_has_relfilenodes) {
        const auto n = c.u32();
        if (!n || !c.has(std::size_t{*n} * 12)) return false;
        for (std::uint32_t i = 0; i < *n; ++i)
            out.whole_relations.push_back(*read_relfilenode(c));
    }
    return true;
}

// The record's block references and, for the records that change relations without one, what
// they change. A record's head (not complete) may end anywhere: what cannot be read is incomplete.
void collect_record(const WalRecordRef& record, Collector& out) {
    const std::string_view bytes = record.bytes;
    if (bytes.size() < k_record_header) {
        out.incomplete = true;
        return;
    }
    const std::uint32_t total = get_le<std::uint32_t>(bytes, 0);
    const auto info = static_cast<std::uint8_t>(bytes[16]);
    const auto rmid = static_cast<std::uint8_t>(bytes[17]);
    Cursor c(bytes, k_record_header);
    std::uint64_t data_total = 0;
    std::uint32_t main_length = 0;
    std::optional<RelationFork> last;
    // As DecodeXLogRecord: headers follow the fixed header until the data they announce fills the
    // rest of the record.
    while (total > c.at() && total - c.at() > data_total) {
        const auto id = c.u8();
        if (!id) {
            out.incomplete = true;
            return;
        }
        if (*id == k_block_id_data_short || *id == k_block_id_data_long) {
            const auto length =
                *id == k_block_id_data_short
                    ? c.u8().transform([](std::uint8_t v) { return std::uint32_t{v}; })
                    : c.u32();
            if (!length) {
                out.incomplete = true;
                return;
            }
            main_length = *length;
            break;
        }
        if (*id == k_block_id_origin || *id == k_block_id_toplevel_xid) {
            if (!c.skip(*id == k_block_id_origin ? 2 : 4)) {
                out.incomplete = true;
                return;
            }
            continue;
        }
        if (*id > k_max_block_id) {
            out.incomplete = true;  // not a record PostgreSQL 15 writes
            return;
        }
        const auto fork_flags = c.u8();
        const auto data_length = c.u16();
        if (!fork_flags || !data_length) {
            out.incomplete = true;
            return;
        }
        data_total += *data_length;
        if (*fork_flags & k_bkpblock_has_image) {
            const auto image_length = c.u16();
            const auto hole_offset = c.u16();
            const auto image_info = c.u8();
            if (!image_length || !hole_offset || !image_info) {
                out.incomplete = true;
                return;
            }
            data_total += *image_length;
            if ((*image_info & k_bkpimage_has_hole) && (*image_info & k_bkpimage_compressed) &&
                !c.skip(2)) {
                out.incomplete = true;
                return;
            }
        }
        if (!(*fork_flags & k_bkpblock_same_rel)) {
            last = read_relfilenode(c);
        } else if (!last) {
            out.incomplete = true;  // BKPBLOCK_SAME_REL on the first block: not valid WAL
            return;
        }
        const auto block = c.u32();
        if (!last || !block) {
            out.incomplete = true;
            return;
        }
        RelationFork fork = *last;
        fork.fork = *fork_flags & k_bkpblock_fork_mask;
        out.blocks.emplace_back(fork, *block);
    }

    const bool special = (info & k_xlr_special_rel_update) != 0;
    const bool needs_main = rmid == k_rm_smgr || rmid == k_rm_dbase || rmid == k_rm_tblspc ||
                            (rmid == k_rm_xact && special);
    if (!needs_main) {
        if (special) out.whole_cluster = true;  // a kind of change this reader does not know
        return;
    }
    if (rmid == k_rm_tblspc) {
        out.whole_cluster = true;
        return;
    }
    const std::uint64_t main_at = c.at() + data_total;
    if (main_at > bytes.size() || bytes.size() - main_at < main_length) {
        out.incomplete = true;  // the head of a record continuing into the next segment
        return;
    }
    const std::string_view main = bytes.substr(main_at, main_length);
    const std::uint8_t op = info & 0xF0;
    if (rmid == k_rm_smgr) {
        Cursor m(main);
        if (op == k_smgr_truncate && !m.skip(4)) {  // the new length in blocks comes first
            out.whole_cluster = true;
            return;
        }
        const auto relation = (op == k_smgr_create || op == k_smgr_truncate)
                                  ? read_relfilenode(m)
                                  : std::optional<RelationFork>();
        if (!relation) {
            out.whole_cluster = true;
            return;
        }
        out.whole_relations.push_back(*relation);
    } else if (rmid == k_rm_dbase) {
        Cursor m(main);
        const auto database = m.u32();  // every database record starts with its oid
        if (!database) {
            out.whole_cluster = true;
            return;
        }
        out.whole_databases.push_back(*database);
    } else {
        const std::uint8_t xop = info & k_xact_opmask;
        const bool ends = xop == 0x00 || xop == 0x20 || xop == 0x30 || xop == 0x40;
        if (!ends || !collect_dropped(main, info, out)) out.whole_cluster = true;
    }
}

void add(WalSummary& summary, Collector& c) {
    for (const auto& [fork, block] : c.blocks)
        summary.blocks[fork].push_back(block);
    for (const auto& relation : c.whole_relations)
        summary.blocks[relation];  // listed, with no blocks: every fork
    for (const auto db : c.whole_databases)
        summary.whole_databases.insert(db);
    summary.whole_cluster = summary.whole_cluster || c.whole_cluster;
}

void normalise(WalSummary& summary) {
    for (auto& [fork, blocks] : summary.blocks) {
        if (fork.fork == k_every_fork) {
            blocks.clear();
            continue;
        }
        std::sort(blocks.begin(), blocks.end());
        blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    }
}

template <typename T>
void put(std::string& out, T v) {
    put_le<T>(out, v);
}

}  // namespace

Result<WalSummary> summarize_wal_segment(std::string_view segment_bytes, std::uint32_t timeline,
                                         std::optional<Lsn> before,
                                         std::string_view next_segment_head) {
    const WalSegmentHeader header = LB_TRY(read_segment_header(segment_bytes));
    WalSummary summary;
    summary.timeline = timeline;
    summary.start = Lsn{header.page_address};
    Collector collector;
    const WalRecordWalk walk = LB_TRY(walk_wal_records(
        segment_bytes, before,
        [&](const WalRecordRef& record) {
            collect_record(record, collector);
            add(summary, collector);
            collector.blocks.clear();
            collector.whole_relations.clear();
            collector.whole_databases.clear();
        },
        next_segment_head));
    summary.end = walk.end_lsn;
    const bool read_all =
        before ? walk.end == WalWalkEnd::before_reached : walk.end != WalWalkEnd::invalid_record;
    summary.complete = read_all && !collector.incomplete;
    normalise(summary);
    return summary;
}

void merge_wal_summary(WalSummary& into, const WalSummary& more) {
    into.complete = into.complete && more.complete;
    into.whole_cluster = into.whole_cluster || more.whole_cluster;
    into.whole_databases.insert(more.whole_databases.begin(), more.whole_databases.end());
    into.start = std::min(into.start, more.start);
    into.end = std::max(into.end, more.end);
    // Both sides are sorted and distinct: a linear merge keeps them so (a backup merges one
    // summary per segment since the previous backup).
    for (const auto& [fork, blocks] : more.blocks) {
        auto& mine = into.blocks[fork];
        const auto middle = static_cast<std::ptrdiff_t>(mine.size());
        mine.insert(mine.end(), blocks.begin(), blocks.end());
        std::inplace_merge(mine.begin(), mine.begin() + middle, mine.end());
        mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    }
}

bool whole_relation_changed(const WalSummary& summary, const RelationFork& relation) {
    if (summary.whole_cluster || summary.whole_databases.contains(relation.database)) return true;
    RelationFork every = relation;
    every.fork = k_every_fork;
    return summary.blocks.contains(every);
}

std::string encode_wal_summary(const WalSummary& summary) {
    std::string out;
    put<std::uint32_t>(out, summary.timeline);
    put<std::uint64_t>(out, summary.start.value);
    put<std::uint64_t>(out, summary.end.value);
    put<std::uint8_t>(out, summary.complete ? 1 : 0);
    put<std::uint8_t>(out, summary.whole_cluster ? 1 : 0);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(summary.whole_databases.size()));
    for (const auto db : summary.whole_databases)
        put<std::uint32_t>(out, db);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(summary.blocks.size()));
    for (const auto& [fork, blocks] : summary.blocks) {
        put<std::uint32_t>(out, fork.tablespace);
        put<std::uint32_t>(out, fork.database);
        put<std::uint32_t>(out, fork.relation);
        put<std::uint8_t>(out, fork.fork);
        put<std::uint32_t>(out, static_cast<std::uint32_t>(blocks.size()));
        for (const auto b : blocks)
            put<std::uint32_t>(out, b);
    }
    return out;
}

Result<WalSummary> parse_wal_summary(std::string_view payload, std::string_view key) {
    auto bad = [&](std::string_view what) {
        return fail(ErrorCode::corrupt, "{}: malformed WAL summary: {}", key, what);
    };
    Cursor c(payload);
    WalSummary s;
    const auto timeline = c.u32();
    if (!timeline || !c.has(16)) return bad("truncated header");
    s.timeline = *timeline;
    s.start = Lsn{get_le<std::uint64_t>(payload, c.at())};
    s.end = Lsn{get_le<std::uint64_t>(payload, c.at() + 8)};
    c.skip(16);
    const auto complete = c.u8();
    const auto whole = c.u8();
    if (!complete || !whole || *complete > 1 || *whole > 1) return bad("flags");
    if (s.end < s.start) return bad("end before start");
    s.complete = *complete == 1;
    s.whole_cluster = *whole == 1;
    const auto databases = c.u32();
    if (!databases || !c.has(std::size_t{*databases} * 4)) return bad("database count");
    std::optional<std::uint32_t> previous_db;
    for (std::uint32_t i = 0; i < *databases; ++i) {
        const std::uint32_t db = *c.u32();
        if (previous_db && db <= *previous_db) return bad("databases not ascending");
        previous_db = db;
        s.whole_databases.insert(db);
    }
    const auto relations = c.u32();
    if (!relations || !c.has(std::size_t{*relations} * 17)) return bad("relation count");
    std::optional<RelationFork> previous;
    for (std::uint32_t i = 0; i < *relations; ++i) {
        RelationFork fork;
        const auto spc = c.u32();
        const auto db = c.u32();
        const auto rel = c.u32();
        const auto f = c.u8();
        const auto n = c.u32();
        if (!spc || !db || !rel || !f || !n) return bad("truncated relation");
        fork = {*spc, *db, *rel, *f};
        if (fork.fork > 3 && fork.fork != k_every_fork) return bad("fork number");
        if (previous && !(*previous < fork)) return bad("relations not ascending");
        previous = fork;
        if (fork.fork == k_every_fork && *n != 0) return bad("blocks listed for a whole relation");
        if (!c.has(std::size_t{*n} * 4)) return bad("block count");
        std::vector<std::uint32_t> blocks;
        blocks.reserve(*n);
        for (std::uint32_t k = 0; k < *n; ++k) {
            const std::uint32_t b = *c.u32();
            if (!blocks.empty() && b <= blocks.back()) return bad("blocks not ascending");
            blocks.push_back(b);
        }
        s.blocks.emplace(fork, std::move(blocks));
    }
    if (c.has(1)) return bad("trailing bytes");
    return s;
}

std::optional<RelationFileKey> relation_file_key(std::string_view path) {
    const auto file = parse_relation_file(path);
    if (!file) return std::nullopt;
    auto number = [](std::string_view text) -> std::optional<std::uint32_t> {
        std::uint32_t v = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
        return v;
    };
    RelationFileKey key;
    key.segment = file->segment;
    key.fork.relation = file->relfilenode;
    key.fork.fork = file->fork == "main" ? 0 : file->fork == "fsm" ? 1 : file->fork == "vm" ? 2 : 3;
    const std::string_view dir = path.substr(0, path.rfind('/'));
    if (dir == "global") {
        key.fork.tablespace = k_global_tablespace_oid;
        key.fork.database = 0;
        return key;
    }
    const auto db = number(dir.substr(dir.rfind('/') + 1));
    if (!db) return std::nullopt;
    key.fork.database = *db;
    if (dir.starts_with("base/")) {
        key.fork.tablespace = k_default_tablespace_oid;
        return key;
    }
    // pg_tblspc/<oid>/PG_<version>_<catversion>/<db>
    constexpr std::string_view k_tblspc = "pg_tblspc/";
    if (!dir.starts_with(k_tblspc)) return std::nullopt;
    const std::string_view rest = dir.substr(k_tblspc.size());
    const auto spc = number(rest.substr(0, rest.find('/')));
    if (!spc) return std::nullopt;
    key.fork.tablespace = *spc;
    return key;
}

}  // namespace lifeboat::postgres
