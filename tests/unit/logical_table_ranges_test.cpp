#include <gtest/gtest.h>

#include "drivers/postgres_logical/base_backup.hpp"
#include "drivers/postgres_logical/table_ranges.hpp"

namespace lifeboat::postgres_logical {
namespace {

constexpr std::uint64_t k_block = 8192;
constexpr std::uint64_t k_mib = 1024 * 1024;

TEST(LogicalTableRanges, SmallTableOrNoThresholdIsOneOpenRange) {
    const std::vector<BlockRange> whole{{}};
    EXPECT_EQ(plan_block_ranges(0, k_block, 64 * k_mib), whole);
    EXPECT_EQ(plan_block_ranges(64 * k_mib, k_block, 64 * k_mib), whole);  // not larger
    EXPECT_EQ(plan_block_ranges(100 * k_mib, k_block, 0), whole);          // 0: never split
    EXPECT_EQ(ctid_condition(BlockRange{}), "");
}

TEST(LogicalTableRanges, LargeTableIsCutIntoConsecutiveRangesCoveringEveryBlock) {
    // 200 MiB at 64 MiB: 4 ranges over 25600 blocks.
    const auto ranges = plan_block_ranges(200 * k_mib, k_block, 64 * k_mib);
    ASSERT_EQ(ranges.size(), 4u);
    EXPECT_EQ(ranges.front().first, 0u);
    EXPECT_FALSE(ranges.back().end.has_value());  // open-ended: rows added later are not lost
    for (std::size_t i = 0; i + 1 < ranges.size(); ++i) {
        ASSERT_TRUE(ranges[i].end.has_value());
        EXPECT_EQ(*ranges[i].end, ranges[i + 1].first) << "range " << i;
        EXPECT_GT(*ranges[i].end, ranges[i].first) << "range " << i;
    }
    EXPECT_EQ(ranges[1].first, 6400u);
    EXPECT_EQ(ranges[3].first, 19200u);
}

TEST(LogicalTableRanges, NeverMoreRangesThanBlocksOrTheCap) {
    // 3 blocks, a 1-byte threshold: one range per block at most.
    const auto tiny = plan_block_ranges(3 * k_block, k_block, 1);
    ASSERT_EQ(tiny.size(), 3u);
    EXPECT_EQ(tiny[1], (BlockRange{1, 2}));
    EXPECT_EQ(tiny[2], (BlockRange{2, std::nullopt}));
    // A huge table with a small threshold: capped.
    const auto huge = plan_block_ranges(1024 * 1024 * k_mib, k_block, k_mib);
    EXPECT_EQ(huge.size(), k_max_table_ranges);
    EXPECT_EQ(huge.front().first, 0u);
    EXPECT_FALSE(huge.back().end.has_value());
}

TEST(LogicalTableRanges, ConditionsLeaveOutMissingBounds) {
    EXPECT_EQ(ctid_condition({0, 10}), "ctid < '(10,0)'");
    EXPECT_EQ(ctid_condition({10, 20}), "ctid >= '(10,0)' AND ctid < '(20,0)'");
    EXPECT_EQ(ctid_condition({20, std::nullopt}), "ctid >= '(20,0)'");
}

TEST(LogicalTableRanges, PiecePathsAreDistinctFromEveryTablePath) {
    EXPECT_EQ(table_piece_path("public", "t", 0), "data/public.t.0.copy");
    EXPECT_EQ(table_piece_path("public", "t", 12), "data/public.t.12.copy");
    // A table named "t.0" has its dot escaped: never the same path as a piece of "t".
    EXPECT_NE(table_entry_path("public", "t.0"), table_piece_path("public", "t", 0));
}

}  // namespace
}  // namespace lifeboat::postgres_logical
