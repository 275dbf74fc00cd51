// Streamed WAL chunks (drivers/postgres_physical/wal_stream_chunks.hpp): names, the contiguous
// run replay reaches, what wal-fetch assembles, what the checks accept.
#include <gtest/gtest.h>

#include <cstring>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "drivers/postgres_physical/wal_stream_stitch.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"
#include "sources/postgres/wal.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;
using namespace lifeboat::repo::test_support;

namespace {

constexpr const char* k_segment = "000000010000000000000003";
constexpr std::size_t k_page = 8192;
constexpr std::size_t k_segment_size = 1 << 20;

template <typename T>
void put(std::string& s, std::size_t at, T value) {
    std::memcpy(&s[at], &value, sizeof value);
}

// The first `pages` pages of 1 MiB segment 3 of timeline 1 (page headers only).
std::string segment_prefix(std::size_t pages) {
    std::string s(pages * k_page, '\0');
    for (std::size_t page = 0; page < pages; ++page) {
        put<std::uint16_t>(s, page * k_page, 0xD110);
        put<std::uint16_t>(s, page * k_page + 2, page == 0 ? 0x0002 : 0x0000);
        put<std::uint32_t>(s, page * k_page + 4, 1);
        put<std::uint64_t>(s, page * k_page + 8, 3 * k_segment_size + page * k_page);
    }
    put<std::uint64_t>(s, 24, 7312345678901234567ull);
    put<std::uint32_t>(s, 32, k_segment_size);
    put<std::uint32_t>(s, 36, k_page);
    return s;
}

StreamChunk chunk(std::uint64_t start, std::uint64_t end) {
    return {k_segment, start, end};
}

class WalStreamTest : public ScratchTest {
  protected:
    void store(const StreamChunk& c, const std::string& content) {
        repo::WalMeta meta;
        meta.name = stream_chunk_name(c);
        auto stored = repo::push_wal(storage(), std::move(meta), content, 3);
        ASSERT_TRUE(stored) << stored.error().message;
    }
};

}  // namespace

TEST(WalStreamChunks, NamesRoundTripAndKeepTheirFolder) {
    const std::string name = stream_chunk_name(chunk(0x2000, 0x10A58));
    EXPECT_EQ(name, "stream/000000010000000000000003/00002000-00010A58");
    EXPECT_EQ(parse_stream_chunk_name(name), chunk(0x2000, 0x10A58));
    // Its own folder under wal/, and the key maps back to the whole name.
    EXPECT_EQ(repo::wal_key(name), "wal/" + name);
    EXPECT_EQ(repo::wal_name_of_key(repo::wal_key(name)), name);
    // The layout of the other WAL objects is unchanged.
    EXPECT_EQ(repo::wal_name_of_key(repo::wal_key(k_segment)), k_segment);
    EXPECT_EQ(repo::wal_name_of_key("wal/history/00000002.history"), "00000002.history");
    EXPECT_EQ(repo::wal_name_of_key("wal/logical/0000000001000000-0000000002000000"),
              "logical/0000000001000000-0000000002000000");
    // Nothing that only knows segments mistakes a chunk for one.
    EXPECT_EQ(postgres::classify_wal_file(name), postgres::WalFileKind::unknown);
}

TEST(WalStreamChunks, ParsingRefusesOtherNames) {
    EXPECT_FALSE(parse_stream_chunk_name(k_segment));
    EXPECT_FALSE(parse_stream_chunk_name("stream/000000010000000000000003/00002000-00001000"));
    EXPECT_FALSE(parse_stream_chunk_name("stream/000000010000000000000003/00002000-00002000"));
    EXPECT_FALSE(parse_stream_chunk_name("stream/000000010000000000000003/00002000-00010a58"));
    EXPECT_FALSE(parse_stream_chunk_name("stream/000000010000000000000003/2000-10A58"));
    EXPECT_FALSE(parse_stream_chunk_name("stream/000000010000000000000003-00002000-00010A58"));
    EXPECT_FALSE(parse_stream_chunk_name("stream/00000001000000000000000G/00000000-00010A58"));
    EXPECT_FALSE(parse_stream_chunk_name("logical/000000010000000000000003/00000000-00010A58"));
}

TEST(WalStreamChunks, TheRunStartsAtZeroAndStopsAtAHole) {
    EXPECT_TRUE(contiguous_run({chunk(0x100, 0x200)}).empty());
    EXPECT_EQ(contiguous_run({chunk(0x200, 0x300), chunk(0, 0x200), chunk(0x400, 0x500)}),
              (std::vector<StreamChunk>{chunk(0, 0x200), chunk(0x200, 0x300)}));
    // Overlaps (a chunk written again from an earlier start): the furthest reaching one wins.
    EXPECT_EQ(contiguous_run({chunk(0, 0x200), chunk(0, 0x180), chunk(0x100, 0x400)}),
              (std::vector<StreamChunk>{chunk(0, 0x200), chunk(0x100, 0x400)}));
}

TEST(WalStreamChunks, SegmentSizeSetting) {
    EXPECT_EQ(parse_segment_size_setting("16MB"), 16u << 20);
    EXPECT_EQ(parse_segment_size_setting("1GB"), 1u << 30);
    EXPECT_FALSE(parse_segment_size_setting("16 MB"));
    EXPECT_FALSE(parse_segment_size_setting("3MB"));
    EXPECT_FALSE(parse_segment_size_setting("MB"));
}

TEST_F(WalStreamTest, FetchAssemblesTheRunAndZeroFillsTheSegment) {
    EXPECT_EQ(fetch_segment_or_stream(storage(), k_segment).error().code, ErrorCode::not_found);
    const std::string bytes = segment_prefix(3);
    store(chunk(0, 0x3000), bytes.substr(0, 0x3000));
    store(chunk(0x3000, 0x6000), bytes.substr(0x3000, 0x3000));
    store(chunk(0x7000, 0x8000), bytes.substr(0x5000, 0x1000));  // after a hole: not used
    const auto chunks = list_stream_chunks(storage(), k_segment);
    ASSERT_TRUE(chunks) << chunks.error().message;
    EXPECT_EQ(chunks->size(), 3u);
    const auto prefix = read_streamed_prefix(storage(), k_segment);
    ASSERT_TRUE(prefix) << prefix.error().message;
    ASSERT_TRUE(*prefix);
    EXPECT_TRUE(**prefix == bytes.substr(0, 0x6000));
    const auto fetched = fetch_segment_or_stream(storage(), k_segment);
    ASSERT_TRUE(fetched) << fetched.error().message;
    ASSERT_EQ(fetched->size(), k_segment_size);
    EXPECT_TRUE(fetched->substr(0, 0x6000) == bytes.substr(0, 0x6000));
    EXPECT_EQ(fetched->find_first_not_of('\0', 0x6000), std::string::npos);
    // The archived segment, once there, is what wal-fetch hands over.
    std::string whole = segment_prefix(k_segment_size / k_page);
    repo::WalMeta meta;
    meta.name = k_segment;
    ASSERT_TRUE(repo::push_wal(storage(), meta, whole, 3));
    const auto archived = fetch_segment_or_stream(storage(), k_segment);
    ASSERT_TRUE(archived);
    EXPECT_TRUE(*archived == whole);
}

TEST_F(WalStreamTest, ChunksAreChecked) {
    const std::string bytes = segment_prefix(2);
    const auto first = check_wal_file(storage(), stream_chunk_name(chunk(0, 0x4000)),
                                      std::string_view(bytes).substr(0, 0x4000));
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->system_identifier, "7312345678901234567");
    // A later chunk after a hole (no chunk from offset 0 reaches it): WAL no restore reaches.
    const auto after_hole = check_wal_file(storage(), stream_chunk_name(chunk(0x2000, 0x4000)),
                                           std::string_view(bytes).substr(0x2000, 0x2000));
    ASSERT_FALSE(after_hole);
    EXPECT_EQ(after_hole.error().code, ErrorCode::corrupt);
    EXPECT_NE(after_hole.error().message.find("without a hole"), std::string::npos);
    store(chunk(0, 0x2000), bytes.substr(0, 0x2000));
    const auto later = check_wal_file(storage(), stream_chunk_name(chunk(0x2000, 0x4000)),
                                      std::string_view(bytes).substr(0x2000, 0x2000));
    ASSERT_TRUE(later) << later.error().message;
    EXPECT_FALSE(later->system_identifier);
    const auto short_one = check_wal_file(storage(), stream_chunk_name(chunk(0, 0x4000)),
                                          std::string_view(bytes).substr(0, 0x3000));
    ASSERT_FALSE(short_one);
    EXPECT_EQ(short_one.error().code, ErrorCode::corrupt);
    // A first chunk whose first page belongs to another segment.
    const auto elsewhere =
        check_wal_file(storage(), "stream/000000010000000000000004/00000000-00004000",
                       std::string_view(bytes).substr(0, 0x4000));
    ASSERT_FALSE(elsewhere);
    EXPECT_EQ(elsewhere.error().code, ErrorCode::corrupt);
    // A chunk that does not hold what its name says is refused when read back.
    store(chunk(0, 0x3000), bytes.substr(0, 0x1000));
    const auto read = read_streamed_prefix(storage(), k_segment);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().code, ErrorCode::corrupt);
}

// Stitching off the receive path (wal_stream_stitch.hpp): a submitted segment becomes its
// segment object and its chunks go; a segment archived with other content is a failure that
// stops later stitches and is reported to the caller, the chunks staying.
class SegmentStitcherTest : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        repo::RepositoryConfig config;
        config.created = system_clock().now();
        auto made = repo::Repository::init(repo_path().string(), config);
        ASSERT_TRUE(made) << made.error().message;
        m_repository.emplace(std::move(*made));
    }
    repo::Repository& repository() { return *m_repository; }
    void store_chunk(const StreamChunk& c, const std::string& content) {
        repo::WalMeta meta;
        meta.name = stream_chunk_name(c);
        auto stored = repo::push_wal(repository().storage(), std::move(meta), content, 3);
        ASSERT_TRUE(stored) << stored.error().message;
    }

  private:
    std::optional<repo::Repository> m_repository;
};

TEST_F(SegmentStitcherTest, StitchesWholeSegmentsAndDeletesTheirChunks) {
    const std::string segment = segment_prefix(k_segment_size / k_page);
    store_chunk(chunk(0, k_segment_size / 2), segment.substr(0, k_segment_size / 2));
    store_chunk(chunk(k_segment_size / 2, k_segment_size), segment.substr(k_segment_size / 2));
    const auto whole = unstitched_segments(repository().storage(), 1, k_segment_size);
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_EQ(*whole, std::vector<std::string>{k_segment});
    const OperationContext ctx;
    SegmentStitcher stitcher(repository(), ctx, 1);
    ASSERT_TRUE(stitcher.submit(k_segment, segment));
    ASSERT_TRUE(stitcher.drain());
    ASSERT_TRUE(stitcher.finish());
    EXPECT_EQ(stitcher.counts().stitched, 1u);
    const auto fetched = repo::fetch_wal(repository().storage(), k_segment);
    ASSERT_TRUE(fetched) << fetched.error().message;
    EXPECT_EQ(*fetched, segment);
    const auto left = list_stream_chunks(repository().storage(), k_segment);
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->empty());
    EXPECT_TRUE(unstitched_segments(repository().storage(), 1, k_segment_size)->empty());
}

TEST_F(SegmentStitcherTest, AConflictStopsTheStitcherAndKeepsTheChunks) {
    std::string segment = segment_prefix(k_segment_size / k_page);
    store_chunk(chunk(0, k_segment_size), segment);
    std::string other = segment;
    other[k_page + 100] = 'x';  // other content, same name
    repo::WalMeta meta;
    meta.name = k_segment;
    ASSERT_TRUE(repo::push_wal(repository().storage(), std::move(meta), other, 3));
    const OperationContext ctx;
    SegmentStitcher stitcher(repository(), ctx, 2);
    ASSERT_TRUE(stitcher.submit(k_segment, segment));
    const auto drained = stitcher.drain();
    ASSERT_FALSE(drained);
    EXPECT_EQ(drained.error().code, ErrorCode::conflict);
    EXPECT_FALSE(stitcher.failure());
    EXPECT_FALSE(stitcher.submit(k_segment, segment));  // refused from then on
    EXPECT_FALSE(stitcher.finish());
    EXPECT_EQ(list_stream_chunks(repository().storage(), k_segment)->size(), 1u);
}
