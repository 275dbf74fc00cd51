// The incremental rules of drivers/postgres_physical/backup_plan.hpp: which files a backup may take
// unchanged from the previous one, and how large files are cut into chunks.
#include <gtest/gtest.h>

#include "drivers/postgres_physical/backup_plan.hpp"
#include "repository/index.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;

namespace {

constexpr std::uint32_t k_block = 256 * 1024;
constexpr std::int64_t k_start_seconds = 1'800'000'000;

postgres::DataEntry file(std::string path, std::uint64_t size, std::int64_t mtime,
                         std::int64_t nsec = 500'000'000) {
    postgres::DataEntry e;
    e.path = std::move(path);
    e.type = postgres::DataEntryType::file;
    e.size = size;
    e.mtime = mtime;
    e.mtime_nsec = nsec;
    return e;
}

struct Fixture {
    postgres::DataDirectoryScan scan;
    repo::Manifest previous;
    repo::BlockIndex index;

    std::function<bool(const repo::BlockId&)> stored() const {
        return [this](const repo::BlockId& b) { return index.contains(b); };
    }

    void add(const postgres::DataEntry& now, std::int64_t old_mtime, bool block_indexed = true,
             std::int64_t old_nsec = 500'000'000) {
        scan.entries.push_back(now);
        repo::ManifestEntry old;
        old.path = now.path;
        old.size = now.size;
        old.mtime = old_mtime;
        old.mtime_nsec = old_nsec;
        old.blocks.push_back(repo::BlockId::of(now.path));
        previous.entries.push_back(old);
        if (block_indexed) {
            repo::PackSummary pack{"p" + now.path, 0, {{old.blocks[0], {}}}};
            index.add_pack(pack);
        }
    }
};

}  // namespace

TEST(BackupPlan, ReusesOnlyFilesUnchangedWellBeforeThePreviousBackup) {
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    f.add(file("base/1/old", 8192, k_start_seconds - 60), k_start_seconds - 60);
    f.add(file("base/1/touched", 8192, k_start_seconds + 5), k_start_seconds - 60);
    f.add(file("base/1/just_before", 8192, k_start_seconds - 1, 950'000'000), k_start_seconds - 1,
          true, 950'000'000);  // 50 ms before the previous start: too close to trust
    f.add(file("base/1/lost_block", 8192, k_start_seconds - 60), k_start_seconds - 60, false);
    f.add(file("base/1/coarse", 8192, k_start_seconds - 1, 0), k_start_seconds - 1, true, 0);
    const BackupPlan plan =
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block);
    EXPECT_NE(plan.reused[0], nullptr);
    EXPECT_EQ(plan.reused[1], nullptr) << "mtime changed";
    EXPECT_EQ(plan.reused[2], nullptr) << "within the sub-second margin";
    EXPECT_EQ(plan.reused[3], nullptr) << "its block is not in the repository";
    EXPECT_EQ(plan.reused[4], nullptr) << "whole-second timestamps need the 2 s margin";
    EXPECT_EQ(plan.files_reused, 1u);
    EXPECT_EQ(plan.chunks.size(), 4u);
}

TEST(BackupPlan, SizeChangeOrFullTypeRereads) {
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    f.add(file("base/1/a", 8192, k_start_seconds - 60), k_start_seconds - 60);
    f.scan.entries[0].size = 16384;
    EXPECT_EQ(
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block).reused[0],
        nullptr);
    f.scan.entries[0].size = 8192;
    EXPECT_NE(
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block).reused[0],
        nullptr);
    EXPECT_EQ(plan_backup(f.scan, &f.previous, f.stored(), BackupType::full, k_block).reused[0],
              nullptr);
    EXPECT_EQ(plan_backup(f.scan, nullptr, f.stored(), BackupType::incremental, k_block).reused[0],
              nullptr);
}

TEST(BackupPlan, CutsLargeFilesIntoBlockAlignedChunksLargestFirst) {
    postgres::DataDirectoryScan scan;
    scan.entries.push_back(file("small", 1000, 0));
    scan.entries.push_back(file("large", 3 * k_chunk_size + 5, 0));
    repo::BlockIndex index;
    const BackupPlan plan = plan_backup(
        scan, nullptr, [&](const repo::BlockId& b) { return index.contains(b); }, BackupType::full,
        k_block);
    ASSERT_EQ(plan.chunks.size(), 5u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(plan.chunks[i].entry, 1u);
        EXPECT_EQ(plan.chunks[i].begin, i * k_chunk_size);
        EXPECT_EQ(plan.chunks[i].begin % k_block, 0u);
    }
    EXPECT_FALSE(plan.chunks[3].end.has_value()) << "the last chunk reads to the end";
    EXPECT_EQ(plan.chunks[4].entry, 0u);
    EXPECT_EQ(plan.bytes_to_read, 1000 + 3 * k_chunk_size + 5);
}
