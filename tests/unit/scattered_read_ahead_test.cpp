// drivers/postgres_physical/read_ahead.hpp: which chunks of a backup plan are asked for ahead of
// the workers, how far ahead, and that each is asked for once.
#include <gtest/gtest.h>

#include "drivers/postgres_physical/read_ahead.hpp"
#include "util/fs.hpp"
#include "util/parallel.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;

namespace {

constexpr std::uint64_t k_block = 256 * 1024;

struct Fixture {
    TempDirectory dir = TempDirectory::create(fs::temp_directory_path(), "lb-readahead-").value();
    postgres::DataDirectoryScan scan;
    BackupPlan plan;

    std::size_t add_file(const std::string& name, std::uint64_t size, bool create = true) {
        postgres::DataEntry e;
        e.path = name;
        e.absolute = dir.path() / name;
        e.type = postgres::DataEntryType::file;
        e.size = size;
        if (create) {
            auto file = File::open(e.absolute, OpenMode::create_new).value();
            EXPECT_TRUE(file.write_at(0, std::string(size, 'x')));
        }
        scan.entries.push_back(e);
        return scan.entries.size() - 1;
    }

    void chunk(std::size_t entry, std::uint64_t begin, std::optional<std::uint64_t> end,
               ChunkKind kind, bool scattered = true) {
        plan.chunks.push_back({entry, begin, end, kind, nullptr, scattered});
    }
};

}  // namespace

TEST(ScatteredReadAhead, OnlyScatteredReadsCountAgainstTheWindow) {
    FileChunk reuse{0, 0, k_block, ChunkKind::reuse, nullptr, true};
    FileChunk read{0, 0, k_block, ChunkKind::read, nullptr, true};
    FileChunk verify{0, 0, k_block, ChunkKind::verify, nullptr, true};
    FileChunk sequential{0, 0, std::nullopt, ChunkKind::read, nullptr, false};
    FileChunk long_run{0, 0, k_scattered_below, ChunkKind::read, nullptr, true};
    EXPECT_FALSE(reads_scattered(reuse));
    EXPECT_TRUE(reads_scattered(read));
    EXPECT_TRUE(reads_scattered(verify));
    EXPECT_FALSE(reads_scattered(sequential));
    EXPECT_FALSE(reads_scattered(long_run));
}

TEST(ScatteredReadAhead, AsksForTheChunksAheadOnceEachWithinTheWindow) {
    Fixture f;
    const std::size_t a = f.add_file("a", 4 * k_block);
    const std::size_t b = f.add_file("b", 2 * k_block);
    f.chunk(a, 0, k_block, ChunkKind::read);                    // 0
    f.chunk(a, k_block, 2 * k_block, ChunkKind::reuse);         // 1: not read
    f.chunk(a, 2 * k_block, 3 * k_block, ChunkKind::read);      // 2
    f.chunk(a, 3 * k_block, 4 * k_block, ChunkKind::verify);    // 3
    f.chunk(b, 0, k_block, ChunkKind::read);                    // 4
    f.chunk(b, k_block, std::nullopt, ChunkKind::read, false);  // 5: read with read-ahead
    ScatteredReadAhead ahead(f.plan, f.scan, 2, 2 * k_block);

    ahead.started(0, 0);  // two blocks ahead: chunks 2 and 3
    EXPECT_EQ(ahead.advised(), 2u);
    ahead.started(0, 0);  // nothing new
    EXPECT_EQ(ahead.advised(), 2u);
    ahead.started(2, 1);  // up to two blocks past chunk 2: chunk 4 is new, 5 needs nothing
    EXPECT_EQ(ahead.advised(), 3u);
    ahead.started(3, 0);
    ahead.started(4, 1);
    EXPECT_EQ(ahead.advised(), 3u);
}

TEST(ScatteredReadAhead, AZeroWindowAsksForNothing) {
    Fixture f;
    const std::size_t a = f.add_file("a", 2 * k_block);
    f.chunk(a, 0, k_block, ChunkKind::read);
    f.chunk(a, k_block, 2 * k_block, ChunkKind::read);
    ScatteredReadAhead ahead(f.plan, f.scan, 1, 0);
    ahead.started(0, 0);
    EXPECT_EQ(ahead.advised(), 0u);
}

TEST(ScatteredReadAhead, AFileThatCannotBeOpenedIsLeftToItsReader) {
    Fixture f;
    const std::size_t a = f.add_file("a", 2 * k_block);
    const std::size_t gone = f.add_file("gone", 2 * k_block, false);
    f.chunk(a, 0, k_block, ChunkKind::read);
    f.chunk(gone, 0, k_block, ChunkKind::read);
    f.chunk(a, k_block, 2 * k_block, ChunkKind::read);
    ScatteredReadAhead ahead(f.plan, f.scan, 1);
    ahead.started(0, 0);
    EXPECT_EQ(ahead.advised(), 1u);  // chunk 2 only
}

TEST(ScatteredReadAhead, ChunksOutOfRangeOrUnknownWorkersAreIgnored) {
    Fixture f;
    const std::size_t a = f.add_file("a", k_block);
    f.chunk(a, 0, k_block, ChunkKind::read);
    ScatteredReadAhead ahead(f.plan, f.scan, 1);
    ahead.started(5, 0);
    ahead.started(0, 7);
    ahead.started(0, 0);
    EXPECT_EQ(ahead.advised(), 0u);
}

TEST(ScatteredReadAhead, WorkersStartingChunksAtOnceAskForEachAtMostOnce) {
    Fixture f;
    constexpr std::size_t k_chunks = 200;
    const std::size_t a = f.add_file("a", k_chunks * k_block);
    for (std::size_t i = 0; i < k_chunks; ++i)
        f.chunk(a, i * k_block, (i + 1) * k_block, ChunkKind::read);
    ScatteredReadAhead ahead(f.plan, f.scan, 2, 16 * k_block);
    ASSERT_TRUE(parallel_for(k_chunks, 2, [&](std::size_t i, unsigned worker) -> Status {
        ahead.started(i, worker);
        return {};
    }));
    // Every chunk but the first one or two (already being read when the first worker asked) is
    // asked for, none twice.
    EXPECT_LE(ahead.advised(), k_chunks - 1);
    EXPECT_GE(ahead.advised(), k_chunks - 2);
}
