// zstd compression (codec/compress.hpp), above all what decompression does with crafted frames.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "codec/compress.hpp"
#include "repository/object.hpp"

using namespace lifeboat;

namespace {

std::string text(std::size_t size) {
    std::string out;
    for (std::size_t row = 0; out.size() < size; ++row)
        out += "compress test row " + std::to_string(row * 2654435761u % 1000003) + "\n";
    out.resize(size);
    return out;
}

// A frame without a content size in its header (as a streaming writer may leave it).
std::string frame_without_size(std::string_view content) {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 0);
    std::string out(ZSTD_compressBound(content.size()), '\0');
    const std::size_t n =
        ZSTD_compress2(ctx, out.data(), out.size(), content.data(), content.size());
    ZSTD_freeCCtx(ctx);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// 15 bytes claiming 1 GiB of content and holding one byte.
std::string frame_claiming_one_gib() {
    std::string frame("\x28\xb5\x2f\xfd", 4);
    frame += '\xc0';  // 8-byte content size, not single-segment
    frame += '\x58';  // window of 2 MiB
    const std::uint64_t size = std::uint64_t{1} << 30;
    for (int i = 0; i < 8; ++i)
        frame += static_cast<char>((size >> (8 * i)) & 0xff);
    frame += std::string("\x09\x00\x00x", 4);  // last block, raw, 1 byte
    return frame;
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

}  // namespace

TEST(Compress, RoundTripsEverySize) {
    Compressor compressor(3);
    Decompressor decompressor;
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{262144},
                                   std::size_t{(1 << 20) + 1}, std::size_t{5 << 20}}) {
        const std::string input = text(size);
        std::string frame, out;
        ASSERT_TRUE(compressor.compress(input, frame));
        ASSERT_TRUE(decompressor.decompress(frame, size, out)) << size;
        EXPECT_EQ(out, input) << size;
        const auto once = zstd_decompress(frame);
        ASSERT_TRUE(once) << size;
        EXPECT_EQ(*once, input);
        // Frames without a declared size decode against the size the caller expects.
        ASSERT_TRUE(decompressor.decompress(frame_without_size(input), size, out)) << size;
        EXPECT_EQ(out, input) << size;
    }
}

TEST(Compress, WrongSizesAndTruncatedFramesAreCorrupt) {
    const std::string input = text(300000);
    const std::string sized = zstd_compress(input, 3).value();
    const std::string unsized = frame_without_size(input);
    Decompressor d;
    std::string out;
    for (const std::string& frame : {sized, unsized}) {
        for (const std::size_t expected : {std::size_t{299999}, std::size_t{300001}}) {
            auto status = d.decompress(frame, expected, out);
            ASSERT_FALSE(status) << expected;
            EXPECT_EQ(status.error().code, ErrorCode::corrupt);
        }
        auto truncated = d.decompress(frame.substr(0, frame.size() - 5), input.size(), out);
        ASSERT_FALSE(truncated);
        EXPECT_EQ(truncated.error().code, ErrorCode::corrupt);
        // The context is reusable after a failure.
        ASSERT_TRUE(d.decompress(frame, input.size(), out));
        EXPECT_EQ(out, input);
    }
}

// zstd_decompress_to hands the content over in pieces of at most 1 MiB and checks what
// Decompressor::decompress checks.
TEST(Compress, DecompressToStreamsInBoundedPieces) {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{(1 << 20) + 1}, std::size_t{5 << 20}}) {
        const std::string input = text(size);
        for (const std::string& frame :
             {zstd_compress(input, 3).value(), frame_without_size(input)}) {
            std::string out;
            std::size_t largest = 0;
            ASSERT_TRUE(zstd_decompress_to(frame, size, [&](std::string_view piece) -> Status {
                largest = std::max(largest, piece.size());
                out += piece;
                return {};
            })) << size;
            EXPECT_EQ(out, input) << size;
            EXPECT_LE(largest, std::size_t{1} << 20);
        }
    }
    const std::string input = text(3 << 20);
    const std::string frame = zstd_compress(input, 3).value();
    const auto ignore = [](std::string_view) -> Status { return {}; };
    for (const std::string& bad :
         {frame.substr(0, frame.size() - 5), frame.substr(0, 100),
          frame_without_size(input).substr(0, 1000), std::string("junk")}) {
        auto status = zstd_decompress_to(bad, input.size(), ignore);
        ASSERT_FALSE(status) << bad.size();
        EXPECT_EQ(status.error().code, ErrorCode::corrupt);
    }
    for (const std::uint64_t expected : {input.size() - 1, input.size() + 1}) {
        for (const std::string& f : {frame, frame_without_size(input)}) {
            auto status = zstd_decompress_to(f, expected, ignore);
            ASSERT_FALSE(status) << expected;
            EXPECT_EQ(status.error().code, ErrorCode::corrupt);
        }
    }
    // A sink's failure ends the decoding with it.
    auto stopped = zstd_decompress_to(frame, input.size(), [](std::string_view) -> Status {
        return fail(ErrorCode::io, "disk full");
    });
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().code, ErrorCode::io);
    // A frame claiming a gigabyte allocates nothing of it.
    const long before = peak_rss_kib();
    EXPECT_FALSE(zstd_decompress_to(frame_claiming_one_gib(), std::uint64_t{1} << 30, ignore));
    EXPECT_LT(peak_rss_kib() - before, 16 * 1024) << "KiB of peak memory grown";
}

// Found by tests/fuzz/fuzz_object_envelope: a few bytes whose frame header (or, for a block, whose
// index entry) claims gigabytes made decompression allocate and zero all of it before decoding.
TEST(Compress, ClaimedSizesAreNotAllocatedUpFront) {
    const long before = peak_rss_kib();
    Decompressor d;
    std::string out;
    auto claimed = d.decompress(frame_claiming_one_gib(), std::size_t{1} << 30, out);
    ASSERT_FALSE(claimed);
    EXPECT_EQ(claimed.error().code, ErrorCode::corrupt);
    auto expected = d.decompress(frame_without_size("x"), std::size_t{1} << 30, out);
    ASSERT_FALSE(expected);
    auto once = zstd_decompress(frame_claiming_one_gib());
    ASSERT_FALSE(once);
    // The same frame as the payload of a manifest object (zstd flag set, trailer recomputed).
    std::string crafted =
        repo::encode_header(repo::ObjectKind::manifest, repo::k_flag_zstd_payload);
    crafted += frame_claiming_one_gib();
    crafted += digest_bytes(sha256(crafted));
    auto decoded = repo::decode_object(crafted, repo::ObjectKind::manifest, "backups/x");
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, ErrorCode::corrupt);
    EXPECT_LT(peak_rss_kib() - before, 128 * 1024) << "KiB of peak memory grown";
}
