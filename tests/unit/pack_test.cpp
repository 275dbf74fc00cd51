// Packs (docs/repository-format.md, "PACK") and the BlockWriter that fills them.
#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <set>
#include <thread>

#include "codec/compress.hpp"
#include "repository/block_writer.hpp"
#include "repository/index.hpp"
#include "repository/pack.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

constexpr std::size_t k_entry_size =
    52;  // block_id[32] offset:u64 stored:u32 raw:u32 codec:u8 reserved[3]

struct TestBlock {
    std::string plaintext;
    BlockCodec codec;
};

std::vector<TestBlock> sample_blocks() {
    return {{compressible_text(262'144, 1), BlockCodec::zstd},
            {random_bytes(8'192, 2), BlockCodec::raw},
            {"15\n", BlockCodec::raw},
            {compressible_text(100'000, 3), BlockCodec::zstd},
            {"", BlockCodec::raw}};
}

std::string stored_form(const TestBlock& block) {
    if (block.codec == BlockCodec::raw) return block.plaintext;
    Compressor compressor(3);
    std::string out;
    EXPECT_TRUE(compressor.compress(block.plaintext, out));
    return out;
}

void expect_same_entries(const std::vector<PackEntry>& actual,
                         const std::vector<PackEntry>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        EXPECT_EQ(actual[i].id, expected[i].id) << i;
        EXPECT_EQ(actual[i].placement.offset, expected[i].placement.offset) << i;
        EXPECT_EQ(actual[i].placement.stored_length, expected[i].placement.stored_length) << i;
        EXPECT_EQ(actual[i].placement.raw_length, expected[i].placement.raw_length) << i;
        EXPECT_EQ(actual[i].placement.codec, expected[i].placement.codec) << i;
    }
}

class PackTest : public ScratchTest {
  protected:
    // Writes sample_blocks() into one pack.
    PackSummary write_sample_pack() {
        auto writer = PackWriter::start(storage());
        EXPECT_TRUE(writer) << writer.error().message;
        if (!writer) return {};
        for (const auto& block : sample_blocks()) {
            const std::string stored = stored_form(block);
            const std::uint64_t before = writer->size();
            EXPECT_TRUE(writer->add(BlockId::of(block.plaintext), stored,
                                    static_cast<std::uint32_t>(block.plaintext.size()),
                                    block.codec));
            EXPECT_EQ(writer->size(), before + stored.size());
        }
        EXPECT_EQ(writer->block_count(), sample_blocks().size());
        auto summary = writer->finish();
        EXPECT_TRUE(summary) << summary.error().message;
        return summary.value_or(PackSummary{});
    }
};

}  // namespace

TEST_F(PackTest, PackIdIsSixtyFourLowerCaseHexDigitsAndPicksTheFolder) {
    const std::string id = new_pack_id();
    ASSERT_EQ(id.size(), 64u);
    EXPECT_TRUE(std::all_of(id.begin(), id.end(),
                            [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); }));
    EXPECT_NE(id, new_pack_id());
    EXPECT_EQ(pack_key(id), "data/" + id.substr(0, 2) + "/" + id);
}

TEST_F(PackTest, WriterAndSummaryReaderRoundTrip) {
    const PackSummary written = write_sample_pack();
    ASSERT_EQ(written.entries.size(), sample_blocks().size());
    auto info = storage().stat(pack_key(written.id));
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->size, written.size);

    // Blobs follow the 24-byte header back to back, in the order they were added.
    std::uint64_t offset = k_header_size;
    const auto blocks = sample_blocks();
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const auto& e = written.entries[i];
        EXPECT_EQ(e.id, BlockId::of(blocks[i].plaintext));
        EXPECT_EQ(e.placement.offset, offset) << i;
        EXPECT_EQ(e.placement.raw_length, blocks[i].plaintext.size());
        EXPECT_EQ(e.placement.codec, blocks[i].codec);
        offset += e.placement.stored_length;
    }

    auto read = read_pack_summary(storage(), written.id);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->id, written.id);
    EXPECT_EQ(read->size, written.size);
    expect_same_entries(read->entries, written.entries);
}

TEST_F(PackTest, PackObjectHasTheDocumentedFooter) {
    const PackSummary written = write_sample_pack();
    const std::string bytes = storage().read(pack_key(written.id)).value_or("");
    EXPECT_EQ(bytes.substr(0, k_header_size), encode_header(ObjectKind::pack, 0));  // payload raw
    auto payload = decode_object(bytes, ObjectKind::pack, pack_key(written.id));
    ASSERT_TRUE(payload) << payload.error().message;

    const std::uint32_t footer_length = get_u32le(*payload, payload->size() - 4);
    const std::size_t n = written.entries.size();
    ASSERT_EQ(footer_length, 4 + n * k_entry_size);
    const std::size_t footer_at = payload->size() - 4 - footer_length;
    EXPECT_EQ(get_u32le(*payload, footer_at), n);
    EXPECT_EQ(k_header_size + footer_at, written.entries.back().placement.offset +
                                             written.entries.back().placement.stored_length);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t at = footer_at + 4 + i * k_entry_size;
        const auto& e = written.entries[i];
        EXPECT_EQ(payload->substr(at, 32), digest_bytes(e.id.digest));
        EXPECT_EQ(get_u64le(*payload, at + 32), e.placement.offset);
        EXPECT_EQ(get_u32le(*payload, at + 40), e.placement.stored_length);
        EXPECT_EQ(get_u32le(*payload, at + 44), e.placement.raw_length);
        EXPECT_EQ(static_cast<unsigned char>((*payload)[at + 48]),
                  static_cast<unsigned char>(e.placement.codec));
        EXPECT_EQ(payload->substr(at + 49, 3), std::string(3, '\0'));
    }
}

TEST_F(PackTest, ReadBlockReturnsEachBlock) {
    const PackSummary written = write_sample_pack();
    const auto blocks = sample_blocks();
    BlockReader reader;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        std::string out = "stale";
        auto status = read_block(storage(), written.id, written.entries[i].id,
                                 written.entries[i].placement, reader, out);
        ASSERT_TRUE(status) << i << ": " << status.error().message;
        EXPECT_EQ(out, blocks[i].plaintext) << i;
    }
}

TEST_F(PackTest, FlippedByteInsideABlobMakesReadBlockCorrupt) {
    const PackSummary written = write_sample_pack();
    const std::string key = pack_key(written.id);
    const std::string original = storage().read(key).value_or("");
    BlockReader reader;
    for (std::size_t i = 0; i < written.entries.size(); ++i) {
        const auto& e = written.entries[i];
        if (e.placement.stored_length == 0) continue;
        for (const std::uint64_t at :
             {e.placement.offset, e.placement.offset + e.placement.stored_length / 2,
              e.placement.offset + e.placement.stored_length - 1}) {
            ASSERT_TRUE(storage().write(key, flip_byte(original, at), Overwrite::allow));
            std::string out;
            auto status = read_block(storage(), written.id, e.id, e.placement, reader, out);
            EXPECT_TRUE(fails_with(status, ErrorCode::corrupt, written.id))
                << "entry " << i << " byte " << at;
            // The pack as a whole is damaged too.
            EXPECT_TRUE(
                fails_with(read_pack_summary(storage(), written.id), ErrorCode::corrupt, key));
        }
    }
    ASSERT_TRUE(storage().write(key, original, Overwrite::allow));
    std::string out;
    EXPECT_TRUE(read_block(storage(), written.id, written.entries[0].id,
                           written.entries[0].placement, reader, out));
}

TEST_F(PackTest, ReadBlockRefusesAWrongIdOrUnknownCodec) {
    const PackSummary written = write_sample_pack();
    BlockReader reader;
    std::string out;
    const auto& e = written.entries[1];
    EXPECT_TRUE(fails_with(
        read_block(storage(), written.id, BlockId::of("other"), e.placement, reader, out),
        ErrorCode::corrupt));
    BlockPlacement unknown = e.placement;
    unknown.codec = static_cast<BlockCodec>(7);
    EXPECT_TRUE(fails_with(read_block(storage(), written.id, e.id, unknown, reader, out),
                           ErrorCode::corrupt));
}

TEST_F(PackTest, ReadBlockOfAMissingPackIsCorruptNamingThePack) {
    // An index that names a pack which is gone means a damaged repository, not a bad request.
    BlockReader reader;
    std::string out;
    const std::string id(64, 'a');
    EXPECT_TRUE(fails_with(read_block(storage(), id, BlockId::of("x"),
                                      BlockPlacement{24, 1, 1, BlockCodec::raw}, reader, out),
                           ErrorCode::corrupt, id));
    EXPECT_TRUE(fails_with(read_pack_summary(storage(), id), ErrorCode::not_found));
}

TEST_F(PackTest, EmptyPackRoundTrips) {
    auto writer = PackWriter::start(storage());
    ASSERT_TRUE(writer) << writer.error().message;
    auto written = writer->finish();
    ASSERT_TRUE(written) << written.error().message;
    EXPECT_EQ(written->size, k_header_size + 8 + k_trailer_size);
    auto read = read_pack_summary(storage(), written->id);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(read->entries.empty());
}

TEST_F(PackTest, AbandonedPackWriterPublishesNothing) {
    {
        auto writer = PackWriter::start(storage());
        ASSERT_TRUE(writer) << writer.error().message;
        ASSERT_TRUE(writer->add(BlockId::of("x"), "x", 1, BlockCodec::raw));
    }
    auto listed = storage().list("data");
    ASSERT_TRUE(listed);
    EXPECT_TRUE(listed->empty());
}

TEST_F(PackTest, MalformedFootersAreCorruptNamingThePack) {
    const std::string id(64, 'b');
    const std::string key = pack_key(id);
    auto entry = [](std::uint64_t offset, std::uint32_t stored) {
        std::string e(32, '\x11');
        for (int i = 0; i < 8; ++i)
            e.push_back(static_cast<char>((offset >> (8 * i)) & 0xff));
        for (int i = 0; i < 4; ++i)
            e.push_back(static_cast<char>((stored >> (8 * i)) & 0xff));
        e += std::string("\x01\0\0\0", 4);  // raw_length 1
        e += std::string(4, '\0');          // codec raw, reserved
        return e;
    };
    auto u32 = [](std::uint32_t v) {
        std::string out(4, '\0');
        put_u32le(out, 0, v);
        return out;
    };
    const std::string blob = "x";
    const std::vector<std::pair<std::string, std::string>> payloads = {
        {"too short", "abc"},
        {"footer longer than payload", blob + u32(1) + entry(24, 1) + u32(1000)},
        {"footer length below 4", blob + u32(0) + u32(3)},
        {"count disagrees with length", blob + u32(2) + entry(24, 1) + u32(4 + k_entry_size)},
        {"entry before the header end", blob + u32(1) + entry(10, 1) + u32(4 + k_entry_size)},
        {"entry past the blobs", blob + u32(1) + entry(24, 2) + u32(4 + k_entry_size)},
    };
    for (const auto& [why, payload] : payloads) {
        ASSERT_TRUE(storage().write(
            key, encode_object(ObjectKind::pack, payload, PayloadCompression::none).value(),
            Overwrite::allow));
        EXPECT_TRUE(fails_with(read_pack_summary(storage(), id), ErrorCode::corrupt, key)) << why;
    }
    // The same footer, well formed, is accepted: the cases above fail for the stated reason.
    ASSERT_TRUE(storage().write(
        key,
        encode_object(ObjectKind::pack, blob + u32(1) + entry(24, 1) + u32(4 + k_entry_size),
                      PayloadCompression::none)
            .value(),
        Overwrite::allow));
    auto good = read_pack_summary(storage(), id);
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(good->entries.size(), 1u);
}

TEST_F(PackTest, FooterLengthNearTheU32LimitIsCorruptNotAnOutOfBoundsRead) {
    // Regression test (was a bug): read_pack_summary checks `footer_length + 4 > payload.size()` in
    // u32 arithmetic; for footer_length >= 0xfffffffc the sum wraps, the check passes, footer_at
    // underflows and the entry count is read far outside the payload: SIGSEGV (seen) on a pack with
    // a valid trailer. Reached by find_unindexed_packs/adoption of any pack under data/.
    const std::string id(64, 'c');
    std::string payload = "blobdata";
    payload += std::string("\xff\xff\xff\xff", 4);  // footer_length 0xffffffff: + 4 wraps in u32
    ASSERT_TRUE(storage().write(
        pack_key(id), encode_object(ObjectKind::pack, payload, PayloadCompression::none).value(),
        Overwrite::allow));
    EXPECT_TRUE(fails_with(read_pack_summary(storage(), id), ErrorCode::corrupt, pack_key(id)));
}

TEST_F(PackTest, EntryWhoseOffsetWrapsAroundIsCorrupt) {
    // Regression test (was a bug): read_pack_summary checks `offset + stored_length > blobs_end` in
    // u64 arithmetic; an entry with offset 2^64-1 and stored_length 1 wraps to 0 and is accepted as
    // inside the pack.
    const std::string id(64, 'd');
    std::string entry(32, '\x22');
    entry += std::string(8, '\xff');        // offset 2^64 - 1
    entry += std::string("\x01\0\0\0", 4);  // stored_length 1: offset + 1 wraps to 0
    entry += std::string("\x01\0\0\0", 4);  // raw_length 1
    entry += std::string(4, '\0');          // codec raw, reserved
    std::string payload = "x";
    payload += std::string("\x01\0\0\0", 4) + entry;
    std::string length(4, '\0');
    put_u32le(length, 0, static_cast<std::uint32_t>(4 + entry.size()));
    payload += length;
    ASSERT_TRUE(storage().write(
        pack_key(id), encode_object(ObjectKind::pack, payload, PayloadCompression::none).value(),
        Overwrite::allow));
    EXPECT_TRUE(fails_with(read_pack_summary(storage(), id), ErrorCode::corrupt, pack_key(id)));
}

// --- BlockWriter --------------------------------------------------------------------------------

namespace {

class BlockWriterTest : public ScratchTest {
  protected:
    Repository init_repository(std::uint64_t pack_target_size = 32ull << 20) {
        RepositoryConfig config;
        config.pack_target_size = pack_target_size;
        auto repository = Repository::init(repo_path().string(), config);
        EXPECT_TRUE(repository) << repository.error().message;
        return std::move(repository).value();
    }

    static BlockIndex index_of(const std::vector<PackSummary>& packs) {
        BlockIndex index;
        for (const auto& pack : packs)
            index.add_pack(pack);
        return index;
    }

    static void expect_all_readable(const Storage& storage, const BlockIndex& index,
                                    const std::vector<std::string>& blocks) {
        BlockReader reader;
        for (const auto& block : blocks) {
            auto location = index.find(BlockId::of(block));
            ASSERT_TRUE(location);
            std::string out;
            auto status = read_block(storage, *location->pack_id, BlockId::of(block),
                                     location->placement, reader, out);
            ASSERT_TRUE(status) << status.error().message;
            EXPECT_EQ(out, block);
        }
    }
};

}  // namespace

TEST_F(BlockWriterTest, DedupsIdenticalBlocksAcrossThreads) {
    Repository repository = init_repository();
    constexpr unsigned k_threads = 4;
    std::vector<std::string> blocks;
    for (int i = 0; i < 32; ++i)
        blocks.push_back(compressible_text(8'192 + i, 100 + i));

    const BlockIndex empty;
    BlockWriter writer(repository, empty, k_threads);
    std::latch start(k_threads);
    std::vector<std::string> errors(k_threads);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            // Every thread stores every block (twice), each starting elsewhere.
            for (std::size_t n = 0; n < 2 * blocks.size(); ++n) {
                const std::string& block = blocks[(n + t * 8) % blocks.size()];
                auto id = writer.store(block, t);
                if (!id)
                    errors[t] += id.error().message + "\n";
                else if (*id != BlockId::of(block))
                    errors[t] += "wrong id\n";
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (const auto& e : errors)
        EXPECT_EQ(e, "");
    EXPECT_EQ(writer.new_blocks(), blocks.size());

    auto packs = writer.finish();
    ASSERT_TRUE(packs) << packs.error().message;
    std::set<std::string> ids;
    std::uint64_t stored = 0;
    for (const auto& pack : *packs) {
        for (const auto& e : pack.entries) {
            EXPECT_TRUE(ids.insert(e.id.hex()).second) << "stored twice: " << e.id.hex();
            stored += e.placement.stored_length;
        }
        auto read = read_pack_summary(repository.storage(), pack.id);
        ASSERT_TRUE(read) << read.error().message;
        expect_same_entries(read->entries, pack.entries);
    }
    EXPECT_EQ(ids.size(), blocks.size());
    EXPECT_EQ(writer.stored_bytes(), stored);
    expect_all_readable(repository.storage(), index_of(*packs), blocks);
}

TEST_F(BlockWriterTest, BlocksTheIndexAlreadyHoldsAreNeverStoredAgain) {
    Repository repository = init_repository();
    std::vector<std::string> blocks = {compressible_text(5'000, 1), random_bytes(5'000, 2)};
    const BlockIndex empty;
    BlockWriter first(repository, empty, 1);
    for (const auto& b : blocks)
        ASSERT_TRUE(first.store(b, 0));
    auto packs = first.finish();
    ASSERT_TRUE(packs);
    const BlockIndex index = index_of(*packs);
    const auto before = repository.storage().list("data").value();

    BlockWriter second(repository, index, 2);
    for (const auto& b : blocks) {
        auto id = second.store(b, 1);
        ASSERT_TRUE(id) << id.error().message;
        EXPECT_EQ(*id, BlockId::of(b));
    }
    EXPECT_EQ(second.new_blocks(), 0u);
    EXPECT_EQ(second.stored_bytes(), 0u);
    auto none = second.finish();
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(repository.storage().list("data").value().size(), before.size());
}

TEST_F(BlockWriterTest, StoresIncompressibleDataRawAndCompressibleDataAsZstd) {
    Repository repository = init_repository();
    const std::string noise = random_bytes(65'536, 7);
    const std::string text = compressible_text(65'536, 7);
    const BlockIndex empty;
    BlockWriter writer(repository, empty, 1);
    ASSERT_TRUE(writer.store(noise, 0));
    ASSERT_TRUE(writer.store(text, 0));
    auto packs = writer.finish();
    ASSERT_TRUE(packs) << packs.error().message;
    const BlockIndex index = index_of(*packs);

    const auto raw = index.find(BlockId::of(noise));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->placement.codec, BlockCodec::raw);
    EXPECT_EQ(raw->placement.stored_length, noise.size());
    EXPECT_EQ(raw->placement.raw_length, noise.size());
    const auto zstd = index.find(BlockId::of(text));
    ASSERT_TRUE(zstd);
    EXPECT_EQ(zstd->placement.codec, BlockCodec::zstd);
    EXPECT_LT(zstd->placement.stored_length, text.size() / 4);
    EXPECT_EQ(zstd->placement.raw_length, text.size());
    expect_all_readable(repository.storage(), index, {noise, text});
}

TEST_F(BlockWriterTest, ClosesAPackOnceItReachesTheTargetSize) {
    Repository repository = init_repository(200 * 1024);
    std::vector<std::string> blocks;
    for (int i = 0; i < 10; ++i)
        blocks.push_back(random_bytes(65'536, 50 + i));
    const BlockIndex empty;
    BlockWriter writer(repository, empty, 1);
    for (const auto& b : blocks)
        ASSERT_TRUE(writer.store(b, 0));
    auto packs = writer.finish();
    ASSERT_TRUE(packs) << packs.error().message;
    // 24 + 4 × 64 KiB ≥ 200 KiB closes a pack after every fourth block: 4 + 4 + 2.
    ASSERT_EQ(packs->size(), 3u);
    std::vector<std::size_t> counts;
    for (const auto& p : *packs)
        counts.push_back(p.entries.size());
    std::sort(counts.begin(), counts.end());
    EXPECT_EQ(counts, (std::vector<std::size_t>{2, 4, 4}));
    EXPECT_EQ(repository.storage().list("data").value().size(), 3u);
    expect_all_readable(repository.storage(), index_of(*packs), blocks);
}
