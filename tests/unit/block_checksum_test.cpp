// The checksum a stored zstd block carries (repository/block.hpp, append_block_checksum) and the
// two ways decode_block checks a block: against its id, or against that checksum.
#include <gtest/gtest.h>

#include "codec/compress.hpp"
#include "repository/block.hpp"
#include "repository/block_writer.hpp"
#include "repository_test_support.hpp"
#include "util/hex.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

constexpr BlockCheck k_both_checks[] = {BlockCheck::id, BlockCheck::stored_checksum};

std::string zstd_frame(std::string_view plaintext) {
    Compressor compressor(3);
    std::string out;
    EXPECT_TRUE(compressor.compress(plaintext, out));
    return out;
}

std::string frame_with_checksum(std::string_view plaintext) {
    std::string stored = zstd_frame(plaintext);
    append_block_checksum(stored, plaintext);
    return stored;
}

BlockPlacement zstd_placement(std::string_view stored, std::string_view plaintext) {
    return {.offset = 0,
            .stored_length = static_cast<std::uint32_t>(stored.size()),
            .raw_length = static_cast<std::uint32_t>(plaintext.size()),
            .codec = BlockCodec::zstd};
}

Status decode(std::string_view stored, const BlockId& id, std::string_view plaintext,
              BlockCheck check, std::string* out = nullptr) {
    BlockReader reader;
    std::string block;
    auto status =
        decode_block(stored, id, zstd_placement(stored, plaintext), reader, block, {}, check);
    if (out) *out = block;
    return status;
}

}  // namespace

TEST(BlockChecksum, TheChecksumIsAZstdSkippableFrameHoldingXxh3OfThePlaintext) {
    const std::string plaintext = compressible_text(65'536, 1);
    const std::string frame = zstd_frame(plaintext);
    const std::string stored = frame_with_checksum(plaintext);
    ASSERT_EQ(stored.size(), frame.size() + k_block_checksum_size);
    EXPECT_EQ(stored.substr(0, frame.size()), frame);
    const std::string_view trailer = std::string_view(stored).substr(frame.size());
    EXPECT_EQ(trailer.substr(0, 8), std::string_view("\x5c\x2a\x4d\x18\x10\x00\x00\x00", 8));
    const Checksum128 expected = xxh3_128(plaintext);
    EXPECT_EQ(trailer.substr(8),
              std::string_view(reinterpret_cast<const char*>(expected.data()), expected.size()));
    // zstd itself sees a frame it skips: a reader that predates the checksum decodes the block.
    Decompressor decompressor;
    std::string out;
    ASSERT_TRUE(decompressor.decompress(stored, plaintext.size(), out));
    EXPECT_EQ(out, plaintext);
}

TEST(BlockChecksum, XxhOfKnownInputsIsTheReferenceValue) {
    // XXH3-128 of the empty input, canonical order (the reference implementation's test value).
    const Checksum128 empty = xxh3_128("");
    EXPECT_EQ(to_hex(std::string(reinterpret_cast<const char*>(empty.data()), empty.size())),
              "99aa06d3014798d86001c324468d497f");
    EXPECT_NE(xxh3_128("a"), xxh3_128("b"));
}

TEST(BlockChecksum, BlocksWithAndWithoutTheChecksumDecodeUnderBothChecks) {
    const std::string plaintext = compressible_text(100'000, 2);
    for (const std::string& stored : {zstd_frame(plaintext), frame_with_checksum(plaintext)}) {
        for (const BlockCheck check : k_both_checks) {
            std::string out;
            auto status = decode(stored, BlockId::of(plaintext), plaintext, check, &out);
            ASSERT_TRUE(status) << status.error().message;
            EXPECT_EQ(out, plaintext);
        }
    }
}

TEST(BlockChecksum, NoFlippedByteYieldsOtherContentUnderEitherCheck) {
    // A flip inside the zstd frame either fails or changes nothing the frame decodes to (some
    // bits of a frame are unused); one in the checksum frame always fails.
    const std::string plaintext = compressible_text(20'000, 3);
    const std::string stored = frame_with_checksum(plaintext);
    const std::size_t frame_size = stored.size() - k_block_checksum_size;
    for (const BlockCheck check : k_both_checks) {
        std::size_t refused = 0;
        for (std::size_t at = 0; at < stored.size(); ++at) {
            for (const unsigned char mask : {0x01, 0x80}) {
                std::string out;
                auto status = decode(flip_byte(stored, at, mask), BlockId::of(plaintext), plaintext,
                                     check, &out);
                if (status) {
                    EXPECT_LT(at, frame_size) << "a flip in the checksum frame was accepted";
                    EXPECT_EQ(out, plaintext) << "byte " << at << " check " << int(check);
                } else {
                    EXPECT_EQ(status.error().code, ErrorCode::corrupt) << status.error().message;
                    ++refused;
                }
            }
        }
        EXPECT_GT(refused, stored.size()) << "most flips must be found";
    }
}

TEST(BlockChecksum, AnotherBlocksChecksumIsRefused) {
    const std::string a = compressible_text(30'000, 4);
    const std::string b = compressible_text(30'000, 5);
    std::string swapped = zstd_frame(a);
    append_block_checksum(swapped, b);
    for (const BlockCheck check : k_both_checks) {
        auto status = decode(swapped, BlockId::of(a), a, check);
        EXPECT_TRUE(fails_with(status, ErrorCode::corrupt, "checksum")) << int(check);
    }
}

TEST(BlockChecksum, BytesAfterTheFrameThatAreNotTheChecksumAreDamage) {
    const std::string plaintext = compressible_text(30'000, 6);
    const std::string stored = frame_with_checksum(plaintext);
    const std::string frame = zstd_frame(plaintext);
    const std::vector<std::string> damaged = {
        stored.substr(0, stored.size() - 1),                               // checksum cut short
        stored + "x",                                                      // a byte after it
        frame + std::string(k_block_checksum_size, 0),                     // zeros where it belongs
        frame + frame,                                                     // a second data frame
        stored.substr(0, frame.size() - 1) + stored.substr(frame.size()),  // frame cut short
    };
    for (std::size_t i = 0; i < damaged.size(); ++i) {
        for (const BlockCheck check : k_both_checks) {
            EXPECT_TRUE(fails_with(decode(damaged[i], BlockId::of(plaintext), plaintext, check),
                                   ErrorCode::corrupt))
                << i << " check " << int(check);
        }
    }
}

TEST(BlockChecksum, TheIdIsCheckedUnlessTheBlockCarriesAChecksumAndTheCheckTrustsIt) {
    const std::string plaintext = compressible_text(30'000, 7);
    const BlockId wrong = BlockId::of("another block");
    // Without a checksum the id is the only check, whatever was asked.
    for (const BlockCheck check : k_both_checks) {
        EXPECT_TRUE(fails_with(decode(zstd_frame(plaintext), wrong, plaintext, check),
                               ErrorCode::corrupt, "its id"))
            << int(check);
    }
    // With one, BlockCheck::id still proves the id; stored_checksum takes the binding of
    // content to id as the writer recorded it (that is its trade, stated in block.hpp).
    const std::string stored = frame_with_checksum(plaintext);
    EXPECT_TRUE(
        fails_with(decode(stored, wrong, plaintext, BlockCheck::id), ErrorCode::corrupt, "its id"));
    EXPECT_TRUE(decode(stored, wrong, plaintext, BlockCheck::stored_checksum));
}

TEST(BlockChecksum, RawBlocksAreAlwaysCheckedAgainstTheirId) {
    const std::string noise = random_bytes(8'192, 8);
    const BlockPlacement raw{.stored_length = 8'192, .raw_length = 8'192, .codec = BlockCodec::raw};
    for (const BlockCheck check : k_both_checks) {
        BlockReader reader;
        std::string out;
        EXPECT_TRUE(decode_block(noise, BlockId::of(noise), raw, reader, out, {}, check));
        EXPECT_TRUE(fails_with(
            decode_block(flip_byte(noise, 100), BlockId::of(noise), raw, reader, out, {}, check),
            ErrorCode::corrupt, "its id"));
    }
}

class BlockChecksumWriter : public ScratchTest {};

TEST_F(BlockChecksumWriter, StoresEveryZstdBlockWithItsChecksum) {
    auto repository = Repository::init(repo_path().string(), RepositoryConfig{});
    ASSERT_TRUE(repository) << repository.error().message;
    const BlockIndex empty;
    BlockWriter writer(*repository, empty, 1);
    const std::string text = compressible_text(65'536, 9);
    const std::string noise = random_bytes(65'536, 9);
    ASSERT_TRUE(writer.store(text, 0));
    ASSERT_TRUE(writer.store(noise, 0));
    auto packs = writer.finish();
    ASSERT_TRUE(packs) << packs.error().message;
    BlockIndex index;
    for (const auto& pack : *packs)
        index.add_pack(pack);
    const auto text_at = index.find(BlockId::of(text));
    ASSERT_TRUE(text_at);
    ASSERT_EQ(text_at->placement.codec, BlockCodec::zstd);
    auto stored = repository->storage().read_range(
        pack_key(*text_at->pack_id), text_at->placement.offset, text_at->placement.stored_length);
    ASSERT_TRUE(stored);
    EXPECT_EQ(*stored, frame_with_checksum(text));
    // An incompressible block stays raw: no frame to hang a checksum on.
    const auto noise_at = index.find(BlockId::of(noise));
    ASSERT_TRUE(noise_at);
    EXPECT_EQ(noise_at->placement.codec, BlockCodec::raw);
    EXPECT_EQ(noise_at->placement.stored_length, noise.size());
}

TEST(BlockChecksum, TheReaderCountsWhichCheckEachBlockGot) {
    const std::string plaintext = compressible_text(30'000, 10);
    const std::string with = frame_with_checksum(plaintext);
    const std::string without = zstd_frame(plaintext);
    const BlockId id = BlockId::of(plaintext);
    BlockReader reader;
    std::string out;
    ASSERT_TRUE(decode_block(with, id, zstd_placement(with, plaintext), reader, out, {},
                             BlockCheck::stored_checksum));
    EXPECT_EQ(reader.checked.by_checksum, 1u);
    EXPECT_EQ(reader.checked.by_id, 0u);
    ASSERT_TRUE(decode_block(without, id, zstd_placement(without, plaintext), reader, out, {},
                             BlockCheck::stored_checksum));
    EXPECT_EQ(reader.checked.by_checksum, 1u);
    EXPECT_EQ(reader.checked.by_id, 1u);
    ASSERT_TRUE(
        decode_block(with, id, zstd_placement(with, plaintext), reader, out, {}, BlockCheck::id));
    EXPECT_EQ(reader.checked.by_checksum, 2u);
    EXPECT_EQ(reader.checked.by_id, 2u);
    // A block that fails is not counted as checked.
    EXPECT_FALSE(decode_block(flip_byte(with, with.size() - 1), id, zstd_placement(with, plaintext),
                              reader, out, {}, BlockCheck::stored_checksum));
    EXPECT_EQ(reader.checked.by_checksum, 2u);
    EXPECT_EQ(reader.checked.by_id, 2u);
}

TEST(BlockChecksum, AKeyedRepositorysBlocksAreCheckedWithItsKeyOrTheirChecksum) {
    const std::string plaintext = compressible_text(40'000, 11);
    const BlockHasher keyed = BlockHasher::keyed(std::string(32, 'k'));
    const BlockId id = keyed(plaintext);
    ASSERT_NE(id, BlockId::of(plaintext));
    const std::string with = frame_with_checksum(plaintext);
    const std::string without = zstd_frame(plaintext);
    BlockReader reader;
    std::string out;
    // The checksum alone: the key plays no part.
    ASSERT_TRUE(decode_block(with, id, zstd_placement(with, plaintext), reader, out, keyed,
                             BlockCheck::stored_checksum));
    EXPECT_EQ(out, plaintext);
    EXPECT_EQ(reader.checked.by_id, 0u);
    // Checked by id, and a block without a checksum always: with the repository's key, never
    // with plain SHA-256.
    for (const std::string* stored : {&with, &without}) {
        for (const BlockCheck check : k_both_checks) {
            if (stored == &with && check == BlockCheck::stored_checksum) continue;
            SCOPED_TRACE(stored == &with ? "with a checksum" : "without one");
            EXPECT_TRUE(decode_block(*stored, id, zstd_placement(*stored, plaintext), reader, out,
                                     keyed, check));
            EXPECT_TRUE(fails_with(decode_block(*stored, id, zstd_placement(*stored, plaintext),
                                                reader, out, BlockHasher(), check),
                                   ErrorCode::corrupt, "its id"));
        }
    }
    EXPECT_EQ(reader.checked.by_id, 3u);
}
