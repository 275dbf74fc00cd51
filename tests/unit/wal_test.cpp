#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sources/postgres/wal.hpp"
#include "wal_segment_builder.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

TEST(Wal, ParsesAndFormatsLsns) {
    auto lsn = parse_lsn("16/B374D848");
    ASSERT_TRUE(lsn);
    EXPECT_EQ(lsn->value, 0x16B374D848u);
    EXPECT_EQ(format_lsn(*lsn), "16/B374D848");
    EXPECT_EQ(parse_lsn("16/b374d848")->value, 0x16B374D848u);
    EXPECT_EQ(format_lsn(Lsn{0}), "0/0");
    EXPECT_EQ(format_lsn(Lsn{0xFFFFFFFFFFFFFFFFu}), "FFFFFFFF/FFFFFFFF");
    EXPECT_EQ(parse_lsn("FFFFFFFF/FFFFFFFF")->value, 0xFFFFFFFFFFFFFFFFu);
    for (const char* bad : {"", "/", "16/", "/1", "16B374D848", "1/2/3", "123456789/0", "0/G",
                            " 0/1", "0/1 ", "-1/0"}) {
        EXPECT_FALSE(parse_lsn(bad)) << bad;
    }
}

TEST(Wal, FileNamesAndSegmentArithmetic) {
    constexpr std::uint64_t mib16 = k_default_wal_segment_size;
    EXPECT_EQ(wal_file_name({1, 1}, mib16), "000000010000000000000001");
    EXPECT_EQ(wal_file_name({1, 256}, mib16), "000000010000000100000000");
    EXPECT_EQ(wal_file_name({0x2A, 0x16B3}, mib16), "0000002A00000016000000B3");
    EXPECT_EQ(wal_file_name({1, 4096}, 1 << 20), "000000010000000100000000");
    EXPECT_EQ(wal_file_name({1, 5}, 1ull << 30), "000000010000000100000001");

    const auto lsn = *parse_lsn("16/B374D848");
    const auto segment = segment_of(lsn, 3, mib16);
    EXPECT_EQ(segment.timeline, 3u);
    EXPECT_EQ(wal_file_name(segment, mib16), "0000000300000016000000B3");
    EXPECT_EQ(format_lsn(segment_start(segment, mib16)), "16/B3000000");
    EXPECT_EQ(parse_wal_file_name("0000000300000016000000B3", mib16), segment);

    EXPECT_FALSE(parse_wal_file_name("000000010000000000000100", mib16));  // low part too big
    EXPECT_TRUE(parse_wal_file_name("000000010000000000000100", 1 << 20));
    EXPECT_FALSE(parse_wal_file_name("0000000100000000000000b3", mib16));  // lower case
    EXPECT_FALSE(parse_wal_file_name("00000001000000000000001", mib16));
    EXPECT_FALSE(parse_wal_file_name("000000010000000000000001.partial", mib16));
    EXPECT_FALSE(parse_wal_file_name("000000010000000000000001", 12345));
    for (std::uint64_t segno : {0ull, 1ull, 255ull, 256ull, 123456789ull}) {
        const WalSegment s{7, segno};
        EXPECT_EQ(parse_wal_file_name(wal_file_name(s, mib16), mib16), s);
    }
    EXPECT_TRUE(is_valid_wal_segment_size(1 << 20));
    EXPECT_TRUE(is_valid_wal_segment_size(1ull << 30));
    EXPECT_FALSE(is_valid_wal_segment_size(1ull << 31));
    EXPECT_FALSE(is_valid_wal_segment_size(3 << 20));
    EXPECT_FALSE(is_valid_wal_segment_size(0));
}

TEST(Wal, ClassifiesFiles) {
    EXPECT_EQ(classify_wal_file("000000010000000000000001"), WalFileKind::segment);
    EXPECT_EQ(classify_wal_file("000000010000000000000001.partial"), WalFileKind::partial);
    EXPECT_EQ(classify_wal_file("00000002.history"), WalFileKind::history);
    EXPECT_EQ(classify_wal_file("000000010000000000000003.00000028.backup"),
              WalFileKind::backup_label);
    for (const char* name :
         {"", "00000001000000000000001", "0000000100000000000000010", "00000001000000000000000g",
          "000000010000000000000001.partial.x", "0000002.history", "0000000A.History",
          "000000010000000000000003.0028.backup", "000000010000000000000003.00000028",
          "archive_status", "000000010000000000000001.tmp"}) {
        EXPECT_EQ(classify_wal_file(name), WalFileKind::unknown) << name;
    }
}

// ---- synthetic segments ----------------------------------------------------------------------

namespace {

using namespace lifeboat::testing;

Timestamp at_pg(std::int64_t pg_micros) {
    return Timestamp{pg_micros + k_postgres_epoch_offset_micros};
}

}  // namespace

TEST(WalScan, SyntheticSegment) {
    SegmentBuilder b(20000);  // a continuation covering the first three pages
    EXPECT_GT(b.position(), 2 * k_page);
    b.xact(0x00, 1000);                                          // commit
    b.record(10, 0x00, std::string(30000, 'h'));                 // a big heap record over 4 pages
    b.xact(0x20, 500, std::string("\xFD\x01\x00", 3));           // abort, with a replication origin
    b.xact(0x10, 99);                                            // prepare: not an end
    b.xact(0x30, 3000, std::string("\xFC\x01\x02\x03\x04", 5));  // commit prepared, toplevel xid
    b.xact(0x40 | 0x80, 2000);                                   // abort prepared, has-info bit
    b.xact(0x50, 1);                                             // assignment: not an end
    b.record(1, 0x00, "\xFE" + raw(std::uint32_t{12}) + raw(std::int64_t{2500}) + "tail");
    b.xact(0x00, 7, std::string("\x00\x00\x00\x00", 4));  // a block reference: skipped
    b.record(2, 0x00, std::string(100, 'z'));             // another rmgr
    b.pad_to_leave(0);
    EXPECT_EQ(b.position() % k_page, 0u);
    b.xact(0x00, 4000);  // starts a page
    b.pad_to_leave(8);
    b.xact(0x00, 3500);  // header split over two pages
    b.pad_to_leave(16);
    b.xact(0x00, 3600);  // header split over two pages

    auto span = scan_commit_times(b.bytes());
    ASSERT_TRUE(span) << span.error().message;
    EXPECT_EQ(span->commits, 8u);
    EXPECT_EQ(span->first_commit, at_pg(500));
    EXPECT_EQ(span->last_commit, at_pg(4000));
}

TEST(WalScan, StopsAtEndOfValidWal) {
    {
        SegmentBuilder b;
        b.xact(0x00, 10);
        b.xact(0x00, 20, "", false);  // bad CRC: end of WAL
        b.xact(0x00, 30);
        auto span = scan_commit_times(b.bytes());
        ASSERT_TRUE(span);
        EXPECT_EQ(span->commits, 1u);
        EXPECT_EQ(span->last_commit, at_pg(10));
    }
    {
        SegmentBuilder b;
        b.xact(0x00, 10);
        b.record(0, 0x40, std::string(16, '\0'));  // XLOG_SWITCH
        b.xact(0x00, 30);
        auto span = scan_commit_times(b.bytes());
        ASSERT_TRUE(span);
        EXPECT_EQ(span->commits, 1u);
    }
    {
        // A record running into the next segment is ignored.
        SegmentBuilder b;
        b.xact(0x00, 10);
        while (b.position() < k_segment - 3 * k_page)
            b.record(10, 0, std::string(5000, 'q'));
        const std::uint32_t main_size = 5 * k_page;
        b.record(1, 0x00,
                 "\xFE" + raw(main_size) + raw(std::int64_t{20}) + std::string(main_size - 8, 'p'));
        auto span = scan_commit_times(b.bytes());
        ASSERT_TRUE(span);
        EXPECT_EQ(span->commits, 1u);
    }
    {
        // A continuation longer than the segment: no record starts here.
        SegmentBuilder b(k_segment);
        auto span = scan_commit_times(b.bytes());
        ASSERT_TRUE(span);
        EXPECT_EQ(span->commits, 0u);
        EXPECT_FALSE(span->first_commit);
    }
}

TEST(WalScan, RefusesGarbageAndTruncation) {
    EXPECT_EQ(scan_commit_times("").error().code, ErrorCode::corrupt);
    EXPECT_EQ(scan_commit_times(std::string(100, 'x')).error().code, ErrorCode::corrupt);
    EXPECT_EQ(scan_commit_times(std::string(k_segment, '\0')).error().code, ErrorCode::corrupt);

    SegmentBuilder b;
    b.xact(0x00, 10);
    const std::string& good = b.bytes();
    EXPECT_EQ(scan_commit_times(std::string_view(good).substr(0, k_segment / 2)).error().code,
              ErrorCode::corrupt);
    EXPECT_EQ(scan_commit_times(std::string_view(good).substr(0, 64)).error().code,
              ErrorCode::corrupt);
    std::string wrong_magic = good;
    put<std::uint16_t>(wrong_magic, 0, 0xD113);  // PostgreSQL 16
    EXPECT_EQ(scan_commit_times(wrong_magic).error().code, ErrorCode::corrupt);
    std::string short_header = good;
    put<std::uint16_t>(short_header, 2, 0);
    EXPECT_FALSE(scan_commit_times(short_header));
    std::string odd_page = good;
    put<std::uint32_t>(odd_page, 36, 1000);
    EXPECT_FALSE(scan_commit_times(odd_page));

    // Random bytes after a valid first header: no crash, whatever the verdict.
    std::mt19937_64 random(42);
    for (int round = 0; round < 20; ++round) {
        std::string noisy = good;
        for (std::size_t i = 40; i < 3 * k_page; ++i)
            noisy[i] = static_cast<char>(random());
        if (round % 2 == 0) put<std::uint16_t>(noisy, 2, 0x0003);  // claim a continuation
        (void)scan_commit_times(noisy);
    }
}

TEST(WalScan, CountsOnlyRecordsBeforeATimelineSwitch) {
    SegmentBuilder b;
    b.xact(0x00, 1000);
    const std::size_t second = b.xact(0x00, 2000);
    b.xact(0x00, 3000);
    const std::uint64_t segment_address = 5 * k_segment;  // where SegmentBuilder places it
    auto all = scan_commit_times_before(b.bytes(), Lsn{segment_address + b.position()});
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->commits, 3u);
    EXPECT_EQ(all->last_commit, at_pg(3000));
    auto shared = scan_commit_times_before(b.bytes(), Lsn{segment_address + second});
    ASSERT_TRUE(shared);
    EXPECT_EQ(shared->commits, 1u);
    EXPECT_EQ(shared->last_commit, at_pg(1000));
    auto none = scan_commit_times_before(b.bytes(), Lsn{segment_address});
    ASSERT_TRUE(none);
    EXPECT_EQ(none->commits, 0u);
    EXPECT_FALSE(scan_commit_times_before(std::string(100, 'x'), Lsn{0}));
}

// Where a restore to exactly the end of the window stops (issue 10, item 3): the last
// transaction end by position, even when an earlier one carries a later time.
TEST(WalScan, NamesWhereTheLastTransactionEndStarts) {
    SegmentBuilder b;
    const std::uint64_t segment_address = 5 * k_segment;
    b.xact(0x00, 3000);
    const std::size_t last = b.xact(0x20, 2000);  // an abort, with an earlier time
    b.record(10, 0x00, std::string(100, 'h'));    // not an end
    b.xact(0x10, 99);                             // a prepare: not an end
    auto span = scan_commit_times(b.bytes());
    ASSERT_TRUE(span) << span.error().message;
    EXPECT_EQ(span->last_commit, at_pg(3000));
    ASSERT_TRUE(span->last_end);
    EXPECT_EQ(span->last_end->value, segment_address + last);
    SegmentBuilder empty;
    empty.record(10, 0x00, "x");
    EXPECT_FALSE(scan_commit_times(empty.bytes())->last_end);
}
