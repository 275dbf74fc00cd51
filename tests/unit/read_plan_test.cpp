// The read planner (engine/read_plan): blocks merged into ranged reads by pack within the range
// and gap limits, the fetch pipeline (requests counted, short answers refused, workers bounded),
// ranges through an encrypted storage, and restore's block writer over a real pack.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "engine/read_plan.hpp"
#include "engine/restore_blocks.hpp"
#include "repository/encrypted_storage.hpp"
#include "repository/index.hpp"
#include "repository/pack.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"

namespace lifeboat::engine {
namespace {

using repo::test_support::random_bytes;
using repo::test_support::ScratchTest;

constexpr std::uint64_t k_mib = 1024 * 1024;

WantedBlock block_at(const std::string& pack, std::uint64_t offset, std::uint32_t length,
                     std::size_t tag = 0) {
    return {.pack_id = &pack,
            .id = {},
            .placement = {.offset = offset, .stored_length = length, .raw_length = length},
            .tag = tag};
}

TEST(ReadPlanTest, NeighboursInOnePackBecomeOneRange) {
    const std::string pack = "aa";
    // Given out of order: the plan sorts by offset.
    const ReadPlan plan = plan_reads(
        {block_at(pack, 200, 100, 2), block_at(pack, 0, 100, 0), block_at(pack, 100, 100, 1)});
    ASSERT_EQ(plan.ranges.size(), 1u);
    EXPECT_EQ(plan.ranges[0].offset, 0u);
    EXPECT_EQ(plan.ranges[0].length, 300u);
    EXPECT_EQ(plan.ranges[0].count, 3u);
    EXPECT_EQ(plan.blocks[0].tag, 0u);
    EXPECT_EQ(plan.blocks[2].tag, 2u);
    EXPECT_EQ(plan.bytes(), 300u);
}

TEST(ReadPlanTest, ASmallGapIsReadThroughAWideOneStartsANewRange) {
    const std::string pack = "aa";
    const ReadLimits limits{.max_range = 8 * k_mib, .max_gap = 1000};
    const ReadPlan plan = plan_reads(
        {block_at(pack, 0, 100), block_at(pack, 1100, 100), block_at(pack, 2201, 100)}, limits);
    ASSERT_EQ(plan.ranges.size(), 2u);
    EXPECT_EQ(plan.ranges[0].length, 1200u);  // the 1000-byte gap read through
    EXPECT_EQ(plan.ranges[0].count, 2u);
    EXPECT_EQ(plan.ranges[1].offset, 2201u);  // 1001 bytes after the last: too far
    EXPECT_EQ(plan.ranges[1].count, 1u);
}

TEST(ReadPlanTest, ARangeNeverExceedsTheLimitAndALongerBlockIsReadAlone) {
    const std::string pack = "aa";
    const ReadLimits limits{.max_range = 1000, .max_gap = 1000};
    std::vector<WantedBlock> wanted;
    for (std::uint64_t i = 0; i < 10; ++i)
        wanted.push_back(block_at(pack, i * 300, 300));
    wanted.push_back(block_at(pack, 3000, 5000));  // longer than a range
    wanted.push_back(block_at(pack, 8000, 10));
    const ReadPlan plan = plan_reads(std::move(wanted), limits);
    std::uint64_t blocks = 0;
    for (const auto& r : plan.ranges) {
        blocks += r.count;
        if (r.offset != 3000) {
            EXPECT_LE(r.length, 1000u);
        }
    }
    EXPECT_EQ(blocks, 12u);
    // 10 blocks of 300 in ranges of at most 3 (900 bytes), then the long block alone, then
    // the last one (it would make the long range longer still).
    ASSERT_EQ(plan.ranges.size(), 6u);
    EXPECT_EQ(plan.ranges[4].offset, 3000u);
    EXPECT_EQ(plan.ranges[4].length, 5000u);
    EXPECT_EQ(plan.ranges[4].count, 1u);
    EXPECT_EQ(plan.ranges[5].offset, 8000u);
}

TEST(ReadPlanTest, PacksAreNeverMergedAndComeInOrder) {
    const std::string a = "aa", b = "bb";
    const std::string b_again = "bb";  // another string with the same id: the same pack
    const ReadPlan plan =
        plan_reads({block_at(b, 0, 100), block_at(a, 100, 100), block_at(b_again, 100, 100)});
    ASSERT_EQ(plan.ranges.size(), 2u);
    EXPECT_EQ(*plan.ranges[0].pack_id, "aa");
    EXPECT_EQ(*plan.ranges[1].pack_id, "bb");
    EXPECT_EQ(plan.ranges[1].count, 2u);
    EXPECT_EQ(plan.ranges[1].length, 200u);
}

TEST(ReadPlanTest, ABlockWantedTwiceIsListedTwiceAndFetchedOnce) {
    const std::string pack = "aa";
    const ReadPlan plan = plan_reads({block_at(pack, 0, 100, 7), block_at(pack, 0, 100, 9)});
    ASSERT_EQ(plan.ranges.size(), 1u);
    EXPECT_EQ(plan.ranges[0].length, 100u);
    EXPECT_EQ(plan.ranges[0].count, 2u);
}

TEST(ReadPlanTest, NothingWantedIsNothingRead) {
    EXPECT_TRUE(plan_reads({}).ranges.empty());
}

// Drops the last byte of every ranged read: a store that answers short.
class ShortReads final : public ForwardingStorage {
  public:
    using ForwardingStorage::ForwardingStorage;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override {
        std::string data = LB_TRY(ForwardingStorage::read_range(key, offset, length));
        if (!data.empty()) data.pop_back();
        return data;
    }
};

class FetchRangesTest : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        m_pack = repo::new_pack_id();
        m_content = random_bytes(3 * k_mib + 123, 42);
        ASSERT_TRUE(storage().write(repo::pack_key(m_pack), m_content, Overwrite::never));
    }
    // Blocks of 64 KiB with a 4 KiB hole after every fourth.
    std::vector<WantedBlock> every_block() const {
        std::vector<WantedBlock> wanted;
        std::uint64_t offset = 0;
        for (std::size_t i = 0; offset + 64 * 1024 <= m_content.size(); ++i) {
            wanted.push_back(block_at(m_pack, offset, 64 * 1024, i));
            offset += 64 * 1024 + (i % 4 == 3 ? 4096 : 0);
        }
        return wanted;
    }
    std::string m_pack;
    std::string m_content;
};

TEST_F(FetchRangesTest, EveryRangeArrivesWholeAndIsCounted) {
    const ReadPlan plan = plan_reads(every_block(), {.max_range = k_mib, .max_gap = 8192});
    std::mutex mutex;
    std::size_t blocks = 0;
    std::atomic<unsigned> running{0}, most{0};
    auto stats = fetch_ranges(
        storage(), plan, {.io_depth = 8, .workers = 2, .memory_budget = 2 * k_mib},
        [&](const RangeRead& range, std::string_view bytes, unsigned worker) -> Status {
            const unsigned now = ++running;
            unsigned seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            EXPECT_LT(worker, 2u);
            EXPECT_EQ(bytes, std::string_view(m_content).substr(range.offset, range.length));
            {
                std::lock_guard lock(mutex);
                blocks += range.count;
            }
            --running;
            return {};
        });
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->requests, plan.ranges.size());
    EXPECT_EQ(stats->bytes, plan.bytes());
    EXPECT_EQ(blocks, plan.blocks.size());
    EXPECT_LE(most.load(), 2u);
    // 3 MiB in ranges of at most 1 MiB (the 4 KiB holes read through): 3 or 4 requests.
    EXPECT_LE(plan.ranges.size(), 4u);
}

TEST_F(FetchRangesTest, AShortAnswerFailsNamingThePack) {
    ShortReads short_reads(storage());
    const ReadPlan plan = plan_reads(every_block());
    auto stats = fetch_ranges(short_reads, plan, {.io_depth = 4, .workers = 1},
                              [&](const RangeRead&, std::string_view, unsigned) -> Status {
                                  ADD_FAILURE() << "a short range reached the handler";
                                  return {};
                              });
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::corrupt);
    EXPECT_NE(stats.error().message.find(m_pack), std::string::npos) << stats.error().message;
}

TEST_F(FetchRangesTest, AMissingPackIsDamageNamingIt) {
    const std::string gone = repo::new_pack_id();
    const ReadPlan plan = plan_reads({block_at(gone, 0, 100)});
    auto stats =
        fetch_ranges(storage(), plan, {},
                     [&](const RangeRead&, std::string_view, unsigned) -> Status { return {}; });
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::corrupt);
    EXPECT_NE(stats.error().message.find(gone), std::string::npos) << stats.error().message;
}

TEST_F(FetchRangesTest, AHandlerFailureStopsTheFetch) {
    const ReadPlan plan = plan_reads(every_block(), {.max_range = 128 * 1024, .max_gap = 0});
    ASSERT_GT(plan.ranges.size(), 10u);
    auto stats = fetch_ranges(storage(), plan, {.io_depth = 1, .workers = 1},
                              [&](const RangeRead&, std::string_view, unsigned) -> Status {
                                  return fail(ErrorCode::corrupt, "bad block");
                              });
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::corrupt);
}

// Ranges of an encrypted pack decrypt only the 64 KiB chunks they touch: ranges that start and
// end inside chunks, and span several, come back as the plaintext.
TEST_F(FetchRangesTest, RangesOfAnEncryptedPackAreItsPlaintext) {
    repo::EncryptedStorage encrypted(std::make_unique<PosixStorage>(repo_path()),
                                     std::string(32, 'k'));
    const std::string pack = repo::new_pack_id();
    ASSERT_TRUE(encrypted.write(repo::pack_key(pack), m_content, Overwrite::never));
    std::vector<WantedBlock> wanted;
    for (std::uint64_t offset = 1000; offset + 70000 < m_content.size(); offset += 150000)
        wanted.push_back(block_at(pack, offset, 70000));
    const ReadPlan plan = plan_reads(std::move(wanted), {.max_range = 400000, .max_gap = 100000});
    auto stats = fetch_ranges(
        encrypted, plan, {.io_depth = 4, .workers = 2},
        [&](const RangeRead& range, std::string_view bytes, unsigned) -> Status {
            EXPECT_EQ(bytes, std::string_view(m_content).substr(range.offset, range.length));
            return {};
        });
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->requests, plan.ranges.size());
}

TEST(IoDepthTest, TheStoragesDefaultUnlessGiven) {
    PosixStorage local("/nonexistent");
    EXPECT_EQ(io_depth_for(local, 0), 4u);
    EXPECT_EQ(io_depth_for(local, 17), 17u);
}

// Restore's block writer over a real pack: files come back exact, a block shared by two files
// is decoded once, the pack is read in one request, and a damaged block fails naming the file.
class WriteFileBlocksTest : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        auto writer = repo::PackWriter::start(storage());
        ASSERT_TRUE(writer);
        for (int i = 0; i < 6; ++i) {
            m_blocks.push_back(random_bytes(10000 + i, 100 + i));
            ASSERT_TRUE(writer->add(repo::BlockId::of(m_blocks.back()), m_blocks.back(),
                                    m_blocks.back().size(), repo::BlockCodec::raw));
        }
        auto summary = writer->finish();
        ASSERT_TRUE(summary);
        m_pack = summary->id;
        m_index.add_pack(*summary);
        // a: blocks 0 1 2; b: blocks 3 0 (0 shared); c: empty; d: block 5.
        m_files = {entry("a", {0, 1, 2}), entry("b", {3, 0}), entry("c", {}), entry("d", {5})};
        fs::create_directories(scratch() / "out");
    }
    repo::ManifestEntry entry(const std::string& name, const std::vector<int>& blocks) const {
        repo::ManifestEntry e{.path = name};
        for (int b : blocks) {
            e.blocks.push_back(repo::BlockId::of(m_blocks[b]));
            e.size += m_blocks[b].size();
        }
        return e;
    }
    Result<BlockWriteStats> run(const Storage& from, std::uint64_t flush_every = 0,
                                const FileSync* sync = nullptr, bool direct = false) {
        for (const auto& f : m_files)
            if (!fs::exists(scratch() / "out" / f.path)) {
                auto created = File::open(scratch() / "out" / f.path, OpenMode::create_new, 0600);
                if (!created) return std::unexpected(created.error());
            }
        const MaterializeOptions options{.manifest = &m_manifest,
                                         .index = &m_index,
                                         .storage = &from,
                                         .hasher = &m_hasher,
                                         .jobs = 2,
                                         .io_depth = 4,
                                         .file_sync = sync,
                                         .direct_writes = direct,
                                         .flush_every = flush_every};
        std::vector<const repo::ManifestEntry*> files;
        for (const auto& f : m_files)
            files.push_back(&f);
        return write_file_blocks(options, files, [&](std::size_t i) {
            return File::open(scratch() / "out" / m_files[i].path, OpenMode::read_write);
        });
    }
    std::string content_of(const std::string& name) const {
        auto file = File::open(scratch() / "out" / name, OpenMode::read);
        EXPECT_TRUE(file);
        auto size = file->size();
        auto bytes = file->read_range(0, *size);
        return bytes ? *bytes : std::string();
    }

    std::vector<std::string> m_blocks;
    std::string m_pack;
    repo::BlockIndex m_index;
    repo::BlockHasher m_hasher;
    repo::Manifest m_manifest;
    std::vector<repo::ManifestEntry> m_files;
};

TEST_F(WriteFileBlocksTest, FilesComeBackExactFromOneRequest) {
    auto stats = run(storage());
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(content_of("a"), m_blocks[0] + m_blocks[1] + m_blocks[2]);
    EXPECT_EQ(content_of("b"), m_blocks[3] + m_blocks[0]);
    EXPECT_EQ(content_of("c"), "");
    EXPECT_EQ(content_of("d"), m_blocks[5]);
    EXPECT_EQ(stats->requests, 1u);  // block 4 is a gap read through
    EXPECT_EQ(stats->io_depth, 4u);
    EXPECT_EQ(stats->bytes, m_files[0].size + m_files[1].size + m_files[3].size);
}

TEST_F(WriteFileBlocksTest, ADamagedBlockFailsNamingTheFile) {
    const auto location = m_index.find(repo::BlockId::of(m_blocks[5]));
    ASSERT_TRUE(location);
    auto bytes = storage().read(repo::pack_key(m_pack));
    ASSERT_TRUE(bytes);
    (*bytes)[location->placement.offset + 17] ^= 0x20;
    ASSERT_TRUE(storage().write(repo::pack_key(m_pack), *bytes, Overwrite::allow));
    auto stats = run(storage());
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::corrupt);
    EXPECT_NE(stats.error().message.find("file d"), std::string::npos) << stats.error().message;
}

TEST_F(WriteFileBlocksTest, BlocksThatCannotFillAFileAreRefusedBeforeAnyRead) {
    m_files[0].size += 1;
    auto stats = run(storage());
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::corrupt);
    EXPECT_NE(stats.error().message.find("file a"), std::string::npos) << stats.error().message;
}

// Counts the flushes per file name; fails those of `failing`.
class CountingSync final : public FileSync {
  public:
    explicit CountingSync(std::string failing = {}) : m_failing(std::move(failing)) {}
    void start_writeback(int, std::uint64_t, std::uint64_t) const override {}
    Status sync_file(int, const fs::path& path) const override {
        std::lock_guard lock(m_mutex);
        if (path.filename() == m_failing)
            return fail(ErrorCode::io, "cannot fsync {}: Input/output error", path.string());
        ++m_flushes[path.filename().string()];
        return {};
    }
    Status sync_directory(int, const fs::path&) const override { return {}; }
    std::map<std::string, int> flushes() const {
        std::lock_guard lock(m_mutex);
        return m_flushes;
    }

  private:
    std::string m_failing;
    mutable std::mutex m_mutex;
    mutable std::map<std::string, int> m_flushes;
};

// Files are flushed while they are written, once per `flush_every` bytes each: a (30,003 bytes)
// and b (20,003) pass 20,000 once, d (10,005) and the empty c never. The files stay exact.
TEST_F(WriteFileBlocksTest, AFileIsFlushedEachTimeFlushEveryMoreOfItsBytesAreWritten) {
    const CountingSync sync;
    auto stats = run(storage(), 20000, &sync);
    ASSERT_TRUE(stats) << stats.error().message;
    const std::map<std::string, int> want = {{"a", 1}, {"b", 1}};
    EXPECT_EQ(sync.flushes(), want);
    EXPECT_EQ(content_of("a"), m_blocks[0] + m_blocks[1] + m_blocks[2]);
    EXPECT_EQ(content_of("b"), m_blocks[3] + m_blocks[0]);

    // Every 5,000 bytes: each block written passes it (one flush per block, however many
    // multiples it passes).
    const CountingSync often;
    for (const auto& f : m_files)
        fs::remove(scratch() / "out" / f.path);
    ASSERT_TRUE(run(storage(), 5000, &often));
    const std::map<std::string, int> want_often = {{"a", 3}, {"b", 2}, {"d", 1}};
    EXPECT_EQ(often.flushes(), want_often);

    const CountingSync none;  // 0: only the flush of a complete file, which is not made here
    for (const auto& f : m_files)
        fs::remove(scratch() / "out" / f.path);
    ASSERT_TRUE(run(storage(), 0, &none));
    EXPECT_TRUE(none.flushes().empty());
}

// With direct writes alike: the bytes handed to the writer threads count.
TEST_F(WriteFileBlocksTest, DirectWritesAreFlushedAlongTheWayAlike) {
    const CountingSync sync;
    auto stats = run(storage(), 20000, &sync, /*direct=*/true);
    ASSERT_TRUE(stats) << stats.error().message;
    const std::map<std::string, int> want = {{"a", 1}, {"b", 1}};
    EXPECT_EQ(sync.flushes(), want);
    EXPECT_EQ(content_of("a"), m_blocks[0] + m_blocks[1] + m_blocks[2]);
    EXPECT_EQ(content_of("b"), m_blocks[3] + m_blocks[0]);
    EXPECT_EQ(content_of("d"), m_blocks[5]);
}

// A flush that fails while the file is written fails the restore naming the file: a later flush
// of the same file may succeed although the pages the failed one held were lost.
TEST_F(WriteFileBlocksTest, AFailedFlushWhileWritingFailsNamingTheFile) {
    const CountingSync sync("a");
    auto stats = run(storage(), 20000, &sync);
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::io);
    EXPECT_NE(stats.error().message.find("/a"), std::string::npos) << stats.error().message;
}

}  // namespace
}  // namespace lifeboat::engine
