// Checks of archived WAL files: segments against their names, timeline history files, backup
// history files (sources/postgres/wal.hpp).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "sources/postgres/timeline_history.hpp"
#include "sources/postgres/wal.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

namespace {

constexpr std::size_t k_page = 8192;
constexpr std::size_t k_segment = 1 << 20;

template <typename T>
void put(std::string& s, std::size_t at, T value) {
    std::memcpy(&s[at], &value, sizeof value);
}

void page_header(std::string& s, std::size_t at, std::uint32_t timeline, std::uint64_t address) {
    put<std::uint16_t>(s, at, 0xD110);
    put<std::uint16_t>(s, at + 2, at == 0 ? 0x0002 : 0x0000);
    put<std::uint32_t>(s, at + 4, timeline);
    put<std::uint64_t>(s, at + 8, address);
}

// A 1 MiB segment `segno` whose pages all carry headers of `timeline` up to `written` pages; the
// rest are zero (as after pg_switch_wal).
std::string segment(std::uint64_t segno, std::uint32_t timeline, std::size_t written = 128) {
    std::string s(k_segment, '\0');
    for (std::size_t page = 0; page < written; ++page)
        page_header(s, page * k_page, timeline, segno * k_segment + page * k_page);
    put<std::uint64_t>(s, 24, 7312345678901234567ull);  // system identifier
    put<std::uint32_t>(s, 32, k_segment);
    put<std::uint32_t>(s, 36, k_page);
    return s;
}

}  // namespace

TEST(WalChecks, ReadsTheLongHeader) {
    const auto header = read_segment_header(segment(9, 3));
    ASSERT_TRUE(header) << header.error().message;
    EXPECT_EQ(header->system_identifier, 7312345678901234567ull);
    EXPECT_EQ(header->timeline, 3u);
    EXPECT_EQ(header->page_address, 9 * k_segment);
    EXPECT_EQ(header->segment_size, k_segment);
    EXPECT_FALSE(read_segment_header(std::string(100, 'x')));
    EXPECT_FALSE(read_segment_header("short"));
}

TEST(WalChecks, AcceptsTheSegmentItsNameSays) {
    const auto timelines =
        check_segment_pages(segment(9, 2), {2, 9}, SegmentCompleteness::complete);
    ASSERT_TRUE(timelines) << timelines.error().message;
    EXPECT_EQ(timelines->first, 2u);
    EXPECT_EQ(timelines->last, 2u);
    // Zeroed pages after a switch are fine.
    EXPECT_TRUE(check_segment_pages(segment(9, 2, 3), {2, 9}, SegmentCompleteness::complete));
}

TEST(WalChecks, RefusesASegmentUnderAnotherName) {
    const std::string s = segment(9, 2);
    auto other_number = check_segment_pages(s, {2, 10}, SegmentCompleteness::complete);
    ASSERT_FALSE(other_number);
    EXPECT_EQ(other_number.error().code, ErrorCode::corrupt);
    EXPECT_NE(other_number.error().message.find("not at"), std::string::npos);
    // A later timeline's pages under an earlier timeline's name.
    EXPECT_FALSE(check_segment_pages(s, {1, 9}, SegmentCompleteness::complete));
    // An earlier timeline's pages under a later name pass this check; the caller compares
    // `first` with the timeline history.
    auto later = check_segment_pages(s, {3, 9}, SegmentCompleteness::complete);
    ASSERT_TRUE(later);
    EXPECT_EQ(later->first, 2u);
}

TEST(WalChecks, RefusesForeignPagesInside) {
    std::string s = segment(9, 1);
    page_header(s, 40 * k_page, 1, 12345 * k_segment);  // a page of another segment
    auto r = check_segment_pages(s, {1, 9}, SegmentCompleteness::complete);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("offset 327680"), std::string::npos) << r.error().message;
    // Timelines must not go backwards from page to page.
    std::string back = segment(9, 2);
    page_header(back, 50 * k_page, 1, 9 * k_segment + 50 * k_page);
    EXPECT_FALSE(check_segment_pages(back, {2, 9}, SegmentCompleteness::complete));
    // A truncated complete segment.
    EXPECT_FALSE(check_segment_pages(segment(9, 1).substr(0, k_segment / 2), {1, 9},
                                     SegmentCompleteness::complete));
}

TEST(WalChecks, PartialSegmentsEndWhereTheirTimelineEnded) {
    std::string s = segment(9, 1, 10);
    page_header(s, 60 * k_page, 1, 4 * k_segment);  // stale bytes of a recycled file
    EXPECT_FALSE(check_segment_pages(s, {1, 9}, SegmentCompleteness::complete));
    EXPECT_TRUE(check_segment_pages(s, {1, 9}, SegmentCompleteness::partial));
    EXPECT_FALSE(check_segment_pages(s, {1, 8}, SegmentCompleteness::partial));
}

TEST(WalChecks, ParsesTimelineHistories) {
    const auto one = parse_timeline_history(2, "1\t0/3000158\tno recovery target specified\n");
    ASSERT_TRUE(one) << one.error().message;
    ASSERT_EQ(one->ancestors.size(), 1u);
    EXPECT_EQ(one->ancestors[0].timeline, 1u);
    EXPECT_EQ(one->ancestors[0].switch_lsn.value, 0x3000158u);
    const auto three =
        parse_timeline_history(3,
                               "# comment\n\n1\t0/3000158\tno recovery target specified\n\n"
                               "2\t0/5000000\tbefore 2026-11-26 14:00:00+00\n");
    ASSERT_TRUE(three) << three.error().message;
    EXPECT_EQ(three->ancestors.size(), 2u);
    // PostgreSQL accepts (and can write) switch positions that go back.
    EXPECT_TRUE(parse_timeline_history(3, "1\t0/5000000\tx\n2\t0/3000000\ty\n"));
    const std::pair<std::string, std::uint32_t> bad[] = {
        {"garbage\n", 2},
        {"", 2},
        {"# only a comment\n", 2},
        {"1\t0/3000158\tx\n", 1},                   // parent not below the file's timeline
        {"2\t0/3000158\tx\n1\t0/4000000\tx\n", 3},  // parents decreasing
        {"1 0/zz\n", 2},
        {"-1\t0/1\tx\n", 2},
        {std::string("1\t0/1\tx\n\0\0\0", 11), 2}};  // binary
    for (const auto& [text, timeline] : bad)
        EXPECT_FALSE(parse_timeline_history(timeline, text)) << text;
}

TEST(WalChecks, ChecksBackupHistoryFiles) {
    const std::string good =
        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
        "STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)\n";
    EXPECT_TRUE(check_backup_history(good, "000000010000000000000002.00000028.backup"));
    EXPECT_FALSE(check_backup_history(good, "000000010000000000000003.00000028.backup"));
    EXPECT_FALSE(check_backup_history(good, "000000010000000000000002.00000030.backup"));
    EXPECT_FALSE(check_backup_history("hello", "000000010000000000000002.00000028.backup"));
}
