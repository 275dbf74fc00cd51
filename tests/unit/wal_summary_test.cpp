// WAL summaries on crafted records: block references (BKPBLOCK_SAME_REL, images with holes),
// records across pages and across the segment's end, the records that change relations without a
// block reference, the end of valid WAL, and the encoded form. Real WAL from a running cluster is
// summarised by tests/e2e/test_incremental_summaries.sh.
#include <gtest/gtest.h>

#include <string>

#include "sources/postgres/wal_summary.hpp"
#include "wal_segment_builder.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;
using namespace lifeboat::testing;

namespace {

constexpr std::uint8_t k_rm_heap = 10;

// One XLogRecordBlockHeader (and what follows it in the header area).
struct BlockRef {
    std::uint8_t id = 0;
    std::uint8_t fork = 0;
    bool same_rel = false;
    RelationFork rel{1663, 5, 16384, 0};
    std::uint32_t block = 0;
    std::uint16_t data = 0;  // block data bytes (after all headers)
    bool image = false;      // with a compressed image with a hole
};

// A record body: block headers, then the main data header, then the blocks' data, then the main
// data, as XLogRecordAssemble lays them out.
std::string body(const std::vector<BlockRef>& blocks, const std::string& main = "") {
    std::string headers;
    std::string data;
    for (const auto& b : blocks) {
        headers += static_cast<char>(b.id);
        std::uint8_t flags = b.fork;
        if (b.image) flags |= 0x10;
        if (b.data) flags |= 0x20;
        if (b.same_rel) flags |= 0x80;
        headers += static_cast<char>(flags);
        headers += raw(b.data);
        data += std::string(b.data, 'd');
        if (b.image) {
            const std::uint16_t image_length = 100;
            headers += raw(image_length) + raw(std::uint16_t{64});
            headers += static_cast<char>(0x01 | 0x04);  // hole, pglz
            headers += raw(std::uint16_t{4000});        // the hole's length
            data += std::string(image_length, 'i');
        }
        if (!b.same_rel) {
            headers += raw(b.rel.tablespace) + raw(b.rel.database) + raw(b.rel.relation);
        }
        headers += raw(b.block);
    }
    if (!main.empty()) {
        if (main.size() < 256) {
            headers += '\xFF';
            headers += static_cast<char>(main.size());
        } else {
            headers += '\xFE' + raw(static_cast<std::uint32_t>(main.size()));
        }
    }
    return headers + data + main;
}

std::string relfilenode(std::uint32_t spc, std::uint32_t db, std::uint32_t rel) {
    return raw(spc) + raw(db) + raw(rel);
}

std::vector<std::uint32_t> blocks_of(const WalSummary& s, RelationFork f) {
    auto it = s.blocks.find(f);
    return it == s.blocks.end() ? std::vector<std::uint32_t>{} : it->second;
}

const RelationFork k_rel{1663, 5, 16384, 0};
const RelationFork k_other{1663, 5, 16999, 0};

}  // namespace

TEST(WalSummary, BlockReferencesOfRecordsAcrossPages) {
    SegmentBuilder b(20000);  // the tail of a record from the previous segment: skipped
    b.record(k_rm_heap, 0, body({{.id = 0, .block = 7, .data = 30}}));
    // Two blocks, the second of the same relation (BKPBLOCK_SAME_REL) in another fork, an image.
    b.record(k_rm_heap, 0,
             body({{.id = 0, .block = 9, .image = true},
                   {.id = 1, .fork = 2, .same_rel = true, .block = 0}},
                  "main data"));
    b.record(k_rm_heap, 0,
             body({{.id = 0, .rel = k_other, .block = 3, .data = 20000}}));  // 3 pages
    b.pad_to_leave(10);  // the next record's header is split over two pages
    b.record(k_rm_heap, 0,
             body({{.id = 0, .block = 7}, {.id = 1, .same_rel = true, .block = 1000000}}));
    b.record(1, 0x00, body({}, raw(std::int64_t{5})));  // no block reference at all
    b.record(0, 0x40, "");                              // XLOG_SWITCH: the rest is padding

    auto s = summarize_wal_segment(b.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->complete) << s->end.value - 5 * k_segment;
    EXPECT_FALSE(s->whole_cluster);
    EXPECT_EQ(s->timeline, 1u);
    EXPECT_EQ(s->start.value, 5 * k_segment);
    EXPECT_EQ(blocks_of(*s, k_rel), (std::vector<std::uint32_t>{7, 9, 1000000}));
    EXPECT_EQ(blocks_of(*s, {1663, 5, 16384, 2}), (std::vector<std::uint32_t>{0}));
    EXPECT_EQ(blocks_of(*s, k_other), (std::vector<std::uint32_t>{3}));
    EXPECT_FALSE(whole_relation_changed(*s, k_rel));
}

TEST(WalSummary, RecordContinuingIntoTheNextSegment) {
    {
        SegmentBuilder b;
        b.record(k_rm_heap, 0, body({{.id = 0, .block = 1}}));
        while (b.position() < k_segment - 2 * k_page)
            b.record(k_rm_heap, 0, filler(4000));
        // Its headers fit here; its data runs off the segment.
        b.record(k_rm_heap, 0, body({{.id = 0, .rel = k_other, .block = 42, .data = 30000}}));
        auto s = summarize_wal_segment(b.bytes(), 1, std::nullopt);
        ASSERT_TRUE(s) << s.error().message;
        EXPECT_TRUE(s->complete);
        EXPECT_EQ(blocks_of(*s, k_other), (std::vector<std::uint32_t>{42}));
    }
    {
        SegmentBuilder b;
        while (b.position() < k_segment - 2 * k_page)
            b.record(k_rm_heap, 0, filler(4000));
        b.pad_to_leave(0);
        while (b.position() < k_segment - k_page)
            b.record(k_rm_heap, 0, filler(2000));
        b.pad_to_leave(32);  // 32 bytes left in the segment: the fixed header and 8 more
        b.record(k_rm_heap, 0,
                 body({{.id = 0, .block = 1}, {.id = 1, .rel = k_other, .block = 2}}));
        auto s = summarize_wal_segment(b.bytes(), 1, std::nullopt);
        ASSERT_TRUE(s) << s.error().message;
        EXPECT_FALSE(s->complete) << "block headers cut by the segment's end are unknown";
    }
}

TEST(WalSummary, BlockHeadersCutByTheSegmentEndAreCompletedFromTheNext) {
    SegmentBuilder b(0, 2);
    while (b.position() < k_segment - 2 * k_page)
        b.record(k_rm_heap, 0, filler(4000));
    b.pad_to_leave(0);
    while (b.position() < k_segment - k_page)
        b.record(k_rm_heap, 0, filler(2000));
    b.pad_to_leave(32);  // the record's fixed header and 8 bytes in this segment, the rest next
    b.record(k_rm_heap, 0,
             body({{.id = 0, .block = 1}, {.id = 1, .rel = k_other, .block = 2, .data = 100}}));
    b.record(k_rm_heap, 0, body({{.id = 0, .block = 3}}));  // wholly in the next segment
    const std::string first = b.segment(0);
    const std::string next = b.segment(1).substr(0, 8 * k_page);

    auto alone = summarize_wal_segment(first, 1, std::nullopt);
    ASSERT_TRUE(alone) << alone.error().message;
    EXPECT_FALSE(alone->complete);
    auto s = summarize_wal_segment(first, 1, std::nullopt, next);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->complete);
    EXPECT_EQ(blocks_of(*s, k_rel), (std::vector<std::uint32_t>{1}));
    EXPECT_EQ(blocks_of(*s, k_other), (std::vector<std::uint32_t>{2}));
    // A head of the next segment that is not its continuation does not help.
    auto foreign = summarize_wal_segment(first, 1, std::nullopt, first.substr(0, 8 * k_page));
    ASSERT_TRUE(foreign);
    EXPECT_FALSE(foreign->complete);
}

TEST(WalSummary, ChangesWithoutBlockReferences) {
    SegmentBuilder b;
    b.record(2, 0x10, body({}, relfilenode(1663, 5, 20000) + raw(std::int32_t{0})));  // create
    b.record(2, 0x20,
             body({}, raw(std::uint32_t{10}) + relfilenode(1663, 5, 20001) +
                          raw(std::int32_t{7})));  // truncate
    // A commit (has-info, special-rel-update) with subtransactions and two dropped relations.
    const std::string commit = raw(std::int64_t{1}) + raw(std::uint32_t{0x02 | 0x04}) +
                               raw(std::uint32_t{1}) + raw(std::uint32_t{777}) +
                               raw(std::uint32_t{2}) + relfilenode(1663, 5, 20002) +
                               relfilenode(1700, 5, 20003);
    b.record(1, 0x80 | 0x01, body({}, commit));
    b.record(4, 0x20, body({}, raw(std::uint32_t{16500}) + raw(std::int32_t{0})));  // drop db
    b.record(0, 0x40, "");
    auto s = summarize_wal_segment(b.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->complete);
    EXPECT_FALSE(s->whole_cluster);
    for (std::uint32_t rel : {20000u, 20001u, 20002u})
        EXPECT_TRUE(whole_relation_changed(*s, {1663, 5, rel, 0})) << rel;
    EXPECT_TRUE(whole_relation_changed(*s, {1700, 5, 20003, 1}));
    EXPECT_FALSE(whole_relation_changed(*s, {1663, 5, 20004, 0}));
    EXPECT_TRUE(whole_relation_changed(*s, {1663, 16500, 1, 0})) << "its database was dropped";

    SegmentBuilder t;
    t.record(5, 0x00, body({}, raw(std::uint32_t{1700}) + std::string("/somewhere\0", 11)));
    s = summarize_wal_segment(t.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->whole_cluster) << "a tablespace record";

    SegmentBuilder u;
    u.record(k_rm_heap, 0x01, body({{.id = 0, .block = 1}}));  // unknown special change
    s = summarize_wal_segment(u.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->whole_cluster);
    EXPECT_TRUE(whole_relation_changed(*s, k_other));
}

TEST(WalSummary, EndOfValidWalAndBefore) {
    SegmentBuilder b;
    b.record(k_rm_heap, 0, body({{.id = 0, .block = 1}}));
    const std::size_t second = b.record(k_rm_heap, 0, body({{.id = 0, .block = 2}}));
    b.record(k_rm_heap, 0, body({{.id = 0, .block = 3}}), false);  // bad CRC
    b.record(k_rm_heap, 0, body({{.id = 0, .block = 4}}));

    auto s = summarize_wal_segment(b.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->complete) << "an archived segment that ends early is not fully summarised";
    EXPECT_EQ(blocks_of(*s, k_rel), (std::vector<std::uint32_t>{1, 2}));

    s = summarize_wal_segment(b.bytes(), 1, Lsn{5 * k_segment + second});
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->complete) << "read up to the position asked for";
    EXPECT_EQ(blocks_of(*s, k_rel), (std::vector<std::uint32_t>{1}));

    s = summarize_wal_segment(b.bytes(), 1, Lsn{6 * k_segment});
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->complete) << "valid WAL ends before the position asked for";

    EXPECT_FALSE(summarize_wal_segment(std::string(k_segment, 'x'), 1, std::nullopt));

    SegmentBuilder sw;
    sw.record(k_rm_heap, 0, body({{.id = 0, .block = 5}}));
    sw.record(0, 0x40, "");  // XLOG_SWITCH: the rest of the segment is padding
    s = summarize_wal_segment(sw.bytes(), 1, std::nullopt);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->complete);
}

TEST(WalSummary, EncodedFormRoundTripsAndIsChecked) {
    WalSummary s;
    s.timeline = 3;
    s.start = Lsn{0x5000000};
    s.end = Lsn{0x5FFFFF8};
    s.complete = true;
    s.whole_databases = {5, 16500};
    s.blocks[k_rel] = {1, 2, 300000};
    s.blocks[{1663, 5, 20000, k_every_fork}] = {};
    const std::string bytes = encode_wal_summary(s);
    auto back = parse_wal_summary(bytes, "k");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(encode_wal_summary(*back), bytes);
    EXPECT_EQ(back->blocks, s.blocks);
    EXPECT_EQ(back->whole_databases, s.whole_databases);

    EXPECT_FALSE(parse_wal_summary(bytes + "x", "k")) << "trailing bytes";
    EXPECT_FALSE(parse_wal_summary(bytes.substr(0, bytes.size() - 1), "k")) << "truncated";
    std::string unsorted = bytes;
    // The first block of the first relation: after the header (22), databases (4 + 8) and the
    // relation count (4) and key (17): make it larger than the second.
    put<std::uint32_t>(unsorted, 22 + 12 + 4 + 17, 9);
    auto bad = parse_wal_summary(unsorted, "wal-summaries/X");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("wal-summaries/X: malformed WAL summary"),
              std::string::npos);
    std::string flags = bytes;
    flags[20] = 2;
    EXPECT_FALSE(parse_wal_summary(flags, "k"));

    WalSummary more;
    more.complete = false;
    more.blocks[k_rel] = {2, 5};
    merge_wal_summary(s, more);
    EXPECT_FALSE(s.complete);
    EXPECT_EQ(s.blocks[k_rel], (std::vector<std::uint32_t>{1, 2, 5, 300000}));
}

TEST(WalSummary, RelationFileKeys) {
    auto k = relation_file_key("base/5/16384.2");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->fork, (RelationFork{1663, 5, 16384, 0}));
    EXPECT_EQ(k->segment, 2u);
    k = relation_file_key("global/1262_vm");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->fork, (RelationFork{1664, 0, 1262, 2}));
    k = relation_file_key("pg_tblspc/16400/PG_15_202209061/5/16401_fsm");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->fork, (RelationFork{16400, 5, 16401, 1}));
    EXPECT_FALSE(relation_file_key("base/5/pg_filenode.map"));
    EXPECT_FALSE(relation_file_key("pg_xact/0000"));
}
