// The incremental rules of drivers/postgres_physical/backup_plan.hpp: which files a backup may take
// unchanged from the previous one, and how large files are cut into chunks.
#include <gtest/gtest.h>

#include <numeric>

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

TEST(BackupPlan, FilesFromReplacesStartTimeWhenRecorded) {
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    // Written by the previous backup's start checkpoint, 20 ms before its start_time.
    f.add(file("base/1/checkpointed", 8192, k_start_seconds - 1, 980'000'000), k_start_seconds - 1,
          true, 980'000'000);
    EXPECT_EQ(
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block).reused[0],
        nullptr);
    f.previous.postgres.files_from = Timestamp{k_start_seconds * 1'000'000 + 100'000};
    EXPECT_NE(
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block).reused[0],
        nullptr)
        << "100 ms before the previous backup began reading files";
}

namespace {

// A relation file of `size` bytes in the previous backup, all its blocks stored; by default its
// timestamp moved since (so only a summary can say a block of it is unchanged).
void add_relation(Fixture& f, const std::string& path, std::uint64_t size,
                  bool timestamp_moved = true) {
    postgres::DataEntry now =
        file(path, size, timestamp_moved ? k_start_seconds + 30 : k_start_seconds - 60);
    now.is_relation = true;
    f.scan.entries.push_back(now);
    repo::ManifestEntry old;
    old.path = path;
    old.size = size;
    old.mtime = k_start_seconds - 60;
    old.mtime_nsec = now.mtime_nsec;
    repo::PackSummary pack{"p" + path, 0, {}};
    for (std::uint64_t b = 0; b * k_block < size; ++b) {
        old.blocks.push_back(repo::BlockId::of(path + "#" + std::to_string(b)));
        pack.entries.push_back({old.blocks.back(), {}});
    }
    f.index.add_pack(pack);
    f.previous.entries.push_back(old);
}

std::vector<std::pair<ChunkKind, std::uint64_t>> kinds(const BackupPlan& plan, std::size_t entry) {
    std::vector<std::pair<ChunkKind, std::uint64_t>> out;
    for (const auto& c : plan.chunks) {
        if (c.entry == entry) out.emplace_back(c.kind, c.begin / k_block);
    }
    return out;
}

}  // namespace

TEST(BackupPlan, SummaryReadsOnlyBlocksTheWalTouched) {
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    add_relation(f, "base/5/16384", 8 * std::uint64_t{k_block});      // 8 blocks
    add_relation(f, "base/5/16384.1", 2 * std::uint64_t{k_block});    // its second segment
    add_relation(f, "base/5/16390", 2 * std::uint64_t{k_block});      // truncated since
    add_relation(f, "base/5/16384_fsm", 1 * std::uint64_t{k_block});  // a fork without WAL
    add_relation(f, "base/5/16400", 3 * std::uint64_t{k_block});      // untouched
    f.scan.entries[4].size += 8192;  // grew by a page: the tail is read
    postgres::WalSummary changed;
    changed.complete = true;
    // Pages 40 and 41 (block 1), 250 (block 7), and page 131072 + 33 (segment 1, block 1).
    changed.blocks[{1663, 5, 16384, 0}] = {40, 41, 250, 131072 + 33};
    changed.blocks[{1663, 5, 16390, postgres::k_every_fork}] = {};
    const SummaryPlan summary{.changed = &changed, .page_size = 8192, .verify_share = 0.0};
    const BackupPlan plan =
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block, summary);
    using K = ChunkKind;
    EXPECT_EQ(kinds(plan, 0), (std::vector<std::pair<K, std::uint64_t>>{
                                  {K::reuse, 0}, {K::read, 1}, {K::reuse, 2}, {K::read, 7}}));
    EXPECT_EQ(kinds(plan, 1),
              (std::vector<std::pair<K, std::uint64_t>>{{K::reuse, 0}, {K::read, 1}}));
    EXPECT_EQ(kinds(plan, 2), (std::vector<std::pair<K, std::uint64_t>>{{K::read, 0}}))
        << "a relation truncated since is read whole";
    EXPECT_EQ(kinds(plan, 3), (std::vector<std::pair<K, std::uint64_t>>{{K::read, 0}}))
        << "the free space map keeps the timestamp rule";
    EXPECT_EQ(kinds(plan, 4),
              (std::vector<std::pair<K, std::uint64_t>>{{K::reuse, 0}, {K::read, 3}}))
        << "three whole blocks taken, the new page read";
    // A read range followed by skipped blocks is read without read-ahead past its end.
    std::vector<std::pair<std::size_t, std::uint64_t>> bounded;
    for (const auto& c : plan.chunks) {
        if (c.skip_follows) bounded.emplace_back(c.entry, c.begin / k_block);
    }
    EXPECT_EQ(bounded, (std::vector<std::pair<std::size_t, std::uint64_t>>{{0, 1}}))
        << "block 1 of the first file only: the other read ranges end their file";
    EXPECT_EQ(plan.summarised_files, 3u);
    EXPECT_EQ(plan.skipped_blocks, 6u + 1u + 3u);
    EXPECT_EQ(plan.bytes_to_read, 3 * std::uint64_t{k_block} + 2 * std::uint64_t{k_block} +
                                      std::uint64_t{k_block} + 8192);

    // With every skipped block checked, each becomes a verify chunk of its own.
    const SummaryPlan all{.changed = &changed, .page_size = 8192, .verify_share = 1.0};
    const BackupPlan checked =
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block, all);
    EXPECT_EQ(checked.verify_blocks, checked.skipped_blocks);
    for (const auto& c : checked.chunks) {
        EXPECT_NE(c.kind, ChunkKind::reuse);
        if (c.kind == ChunkKind::verify) {
            EXPECT_EQ(*c.end - c.begin, k_block);
        }
    }
}

namespace {

// Verify chunks per file of a plan over `files` relation files of `blocks` untouched blocks.
std::vector<std::uint64_t> sampled_per_file(std::size_t files, std::uint64_t blocks, double share) {
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    for (std::size_t i = 0; i < files; ++i)
        add_relation(f, "base/5/" + std::to_string(20000 + i), blocks * k_block);
    postgres::WalSummary changed;
    changed.complete = true;
    const SummaryPlan summary{
        .changed = &changed, .page_size = 8192, .verify_share = share, .seed = 42};
    const BackupPlan plan =
        plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block, summary);
    std::vector<std::uint64_t> out(files, 0);
    std::uint64_t total = 0;
    for (const auto& c : plan.chunks) {
        if (c.kind != ChunkKind::verify) continue;
        ++out[c.entry];
        ++total;
    }
    EXPECT_EQ(total, plan.verify_blocks);
    EXPECT_EQ(plan.skipped_blocks, files * blocks);
    return out;
}

std::uint64_t sum(const std::vector<std::uint64_t>& v) {
    return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

}  // namespace

TEST(BackupPlan, SampledBlocksAreTheShareOfAllSkippedOnes) {
    EXPECT_EQ(sum(sampled_per_file(10, 30, 0.1)), 30u) << "10% of 300";
    EXPECT_EQ(sum(sampled_per_file(2, 5, 0.01)), 1u) << "at least one when the share is not 0";
    EXPECT_EQ(sum(sampled_per_file(2, 5, 0.0)), 0u);
    EXPECT_EQ(sum(sampled_per_file(3, 7, 1.0)), 21u) << "--verify-unchanged: all of them";
    EXPECT_EQ(sum(sampled_per_file(100, 100, 0.01)), source::k_max_sampled_blocks);
}

TEST(BackupPlan, SampledBlocksAreSpreadOverEveryFileWhenCapped) {
    // Half of 10,000 blocks is far past the cap: the 64 must still come from the whole data
    // directory, not from the first files planned.
    const auto per_file = sampled_per_file(100, 100, 0.5);
    EXPECT_EQ(sum(per_file), source::k_max_sampled_blocks);
    const std::uint64_t second_half =
        std::accumulate(per_file.begin() + 50, per_file.end(), std::uint64_t{0});
    EXPECT_GE(second_half, 16u);
    EXPECT_LE(second_half, 48u);
}

TEST(BackupPlan, TimestampsTakeAWholeRelationFileBeforeTheSummary) {
    // Two relation files whose timestamps did not move, the summary listing a page of each (a
    // change the previous backup read: e.g. a hint bit's full-page image written by its start
    // checkpoint), and one whose timestamp moved, with nothing listed.
    Fixture f;
    f.previous.start_time = Timestamp{k_start_seconds * 1'000'000};
    add_relation(f, "base/5/31000", 4 * std::uint64_t{k_block}, false);
    add_relation(f, "base/5/31001", 50 * std::uint64_t{k_block}, false);
    add_relation(f, "base/5/30000", 20 * std::uint64_t{k_block});
    postgres::WalSummary changed;
    changed.complete = true;
    changed.blocks[{1663, 5, 31000, 0}] = {3};
    changed.blocks[{1663, 5, 31001, 0}] = {100};
    auto plan_with = [&](double share) {
        const SummaryPlan summary{
            .changed = &changed, .page_size = 8192, .verify_share = share, .seed = 7};
        return plan_backup(f.scan, &f.previous, f.stored(), BackupType::incremental, k_block,
                           summary);
    };
    const BackupPlan plan = plan_with(0.1);
    EXPECT_NE(plan.reused[0], nullptr) << "timestamps unchanged: taken whole, the page not read";
    EXPECT_NE(plan.reused[1], nullptr);
    EXPECT_EQ(plan.reused[2], nullptr);
    EXPECT_EQ(plan.files_reused, 2u);
    EXPECT_EQ(plan.summarised_files, 1u);
    EXPECT_EQ(plan.skipped_blocks, 20u);
    EXPECT_EQ(plan.bytes_to_read, 0u);
    EXPECT_EQ(plan.verify_blocks, 2u) << "10% of the 20 blocks the summary alone vouches for";
    for (const auto& c : plan.chunks)
        EXPECT_EQ(c.entry, 2u);

    // --verify-unchanged plans every relation file by block: the listed pages are read, the
    // rest of all three files re-read and compared.
    const BackupPlan all = plan_with(1.0);
    EXPECT_EQ(all.files_reused, 0u);
    EXPECT_EQ(all.summarised_files, 3u);
    EXPECT_EQ(all.skipped_blocks, 3u + 49u + 20u);
    EXPECT_EQ(all.verify_blocks, all.skipped_blocks);
    EXPECT_EQ(all.bytes_to_read, 2 * std::uint64_t{k_block});
}
