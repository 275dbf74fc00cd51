// BlockIdSet (repository/block_id_set.hpp): the same answers in memory and spilled to disk, with
// duplicates, absent ids before, between and after the stored ones, and its spill files gone
// with it.
#include "repository/block_id_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace lifeboat::repo {
namespace {

BlockId random_id(std::mt19937_64& rng) {
    BlockId id;
    for (auto& byte : id.digest)
        byte = static_cast<unsigned char>(rng());
    return id;
}

struct Scratch {
    Scratch() : dir(*TempDirectory::create(fs::temp_directory_path(), "lb-blockset-test-")) {}
    TempDirectory dir;
};

void check_against_reference(std::size_t budget, std::size_t count, bool expect_spill) {
    Scratch scratch;
    std::mt19937_64 rng(count * 31 + budget);
    std::vector<BlockId> added;
    std::set<std::string> reference;
    {
        BlockIdSet set(budget, scratch.dir.path());
        for (std::size_t i = 0; i < count; ++i) {
            // One id in five is added again, from anywhere before it.
            const BlockId id =
                (i % 5 == 4 && !added.empty()) ? added[rng() % added.size()] : random_id(rng);
            added.push_back(id);
            reference.insert(id.hex());
            ASSERT_TRUE(set.add(id));
        }
        ASSERT_TRUE(set.seal());
        EXPECT_EQ(set.spilled(), expect_spill);
        EXPECT_EQ(set.size(), reference.size());
        for (const auto& id : added) {
            auto found = set.contains(id);
            ASSERT_TRUE(found) << found.error().message;
            EXPECT_TRUE(*found) << id.hex();
        }
        std::size_t absent_checked = 0;
        for (int i = 0; i < 2000; ++i) {
            const BlockId id = random_id(rng);
            if (reference.count(id.hex())) continue;
            auto found = set.contains(id);
            ASSERT_TRUE(found);
            EXPECT_FALSE(*found) << id.hex();
            ++absent_checked;
        }
        EXPECT_GT(absent_checked, 1900u);
        BlockId lowest, highest;
        highest.digest.fill(0xff);
        if (!reference.count(lowest.hex())) {
            EXPECT_FALSE(*set.contains(lowest));
        }
        if (!reference.count(highest.hex())) {
            EXPECT_FALSE(*set.contains(highest));
        }
    }
    EXPECT_TRUE(fs::is_empty(scratch.dir.path())) << "spill files left behind";
}

TEST(BlockIdSet, InMemoryWhileTheIdsFitTheBudget) {
    check_against_reference(1u << 20, 5000, false);
}

TEST(BlockIdSet, SpilledToSortedRunsBeyondTheBudgetGivesTheSameAnswers) {
    // 64 ids in memory: 20,000 ids make about 300 runs, merged through buffers of 16 ids.
    check_against_reference(64 * sizeof(BlockId), 20000, true);
}

TEST(BlockIdSet, AnEmptySetHoldsNothing) {
    Scratch scratch;
    BlockIdSet set(1024, scratch.dir.path());
    ASSERT_TRUE(set.seal());
    EXPECT_EQ(set.size(), 0u);
    EXPECT_FALSE(*set.contains(BlockId{}));
}

TEST(BlockIdSet, LookupBeforeSealAndAddAfterItAreRefused) {
    Scratch scratch;
    BlockIdSet set(1024, scratch.dir.path());
    ASSERT_TRUE(set.add(BlockId{}));
    EXPECT_EQ(set.contains(BlockId{}).error().code, ErrorCode::internal);
    ASSERT_TRUE(set.seal());
    EXPECT_EQ(set.add(BlockId{}).error().code, ErrorCode::internal);
}

TEST(BlockIdSet, AnUnwritableSpillDirectoryIsAnIoError) {
    BlockIdSet set(16 * sizeof(BlockId), "/nonexistent-lifeboat-dir");
    Status status;
    for (int i = 0; i < 64 && status; ++i) {
        BlockId id;
        id.digest[0] = static_cast<unsigned char>(i);
        status = set.add(id);
    }
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::io);
}

}  // namespace
}  // namespace lifeboat::repo
