#include "codec/compress.hpp"

#include <zstd.h>

#include <algorithm>
#include <memory>

namespace lifeboat {

Compressor::Compressor(int level) : m_ctx(ZSTD_createCCtx()), m_level(level) {}
Compressor::~Compressor() {
    ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(m_ctx));
}

Status Compressor::compress(std::string_view input, std::string& out) {
    out.resize(ZSTD_compressBound(input.size()));
    const std::size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(m_ctx), out.data(), out.size(),
                                            input.data(), input.size(), m_level);
    if (ZSTD_isError(n)) {
        return fail(ErrorCode::internal, "zstd compression failed: {}", ZSTD_getErrorName(n));
    }
    out.resize(n);
    return {};
}

Decompressor::Decompressor() : m_ctx(ZSTD_createDCtx()) {}
Decompressor::~Decompressor() {
    ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(m_ctx));
}

Status Decompressor::decompress(std::string_view frame, std::size_t expected_size,
                                std::string& out) {
    // Check the size the frame declares before allocating what the caller expects: a damaged
    // or crafted size must be an error, never a huge allocation.
    const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
        return fail(ErrorCode::corrupt, "not a zstd frame");
    }
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size) {
        return fail(ErrorCode::corrupt, "zstd frame holds {} bytes, expected {}", declared,
                    expected_size);
    }
    // Beyond 64 MiB the output grows with what the frame really produces, never straight to
    // the size a header or an index entry claims: a few crafted bytes claiming 4 GiB must not
    // allocate it. Up to 64 MiB (a WAL segment) the expected size is taken at once: sized
    // without zero-filling, its pages cost memory only as the decoder writes them, and a 16 MiB
    // segment is not copied from a 12.8 MiB buffer into a 16 MiB one (29 MiB for a moment).
    auto* ctx = static_cast<ZSTD_DCtx*>(m_ctx);
    ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
    constexpr std::size_t k_at_once = std::size_t{64} << 20;
    const std::size_t first_size =
        expected_size <= k_at_once
            ? expected_size
            : std::min(expected_size,
                       std::max<std::size_t>(std::size_t{1} << 20, frame.size() * 8));
    // Sized without zero-filling: every byte kept is written by the decoder (a 16 MiB WAL
    // segment spent a tenth of its fetch in memset and the page faults it caused).
    const auto grow = [&out](std::size_t size) {
        out.resize_and_overwrite(size, [](char*, std::size_t n) { return n; });
    };
    grow(first_size);
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    std::size_t produced = 0;
    for (;;) {
        if (produced == out.size() && out.size() < expected_size)
            grow(std::min(expected_size, out.size() * 2));
        const std::size_t in_before = in.pos;
        ZSTD_outBuffer o{out.data(), out.size(), produced};
        const std::size_t pending = ZSTD_decompressStream(ctx, &o, &in);
        if (ZSTD_isError(pending)) {
            return fail(ErrorCode::corrupt, "zstd frame cannot be decoded: {}",
                        ZSTD_getErrorName(pending));
        }
        const bool progressed = o.pos != produced || in.pos != in_before;
        produced = o.pos;
        if (pending == 0 && in.pos == in.size) break;
        if (!progressed) {
            if (produced == expected_size) {
                return fail(ErrorCode::corrupt, "zstd frame holds more than the {} bytes expected",
                            expected_size);
            }
            return fail(ErrorCode::corrupt, "zstd frame cannot be decoded: it is truncated");
        }
    }
    if (produced != expected_size) {
        return fail(ErrorCode::corrupt, "zstd frame holds {} bytes, expected {}", produced,
                    expected_size);
    }
    out.resize(produced);
    return {};
}

Result<std::size_t> zstd_frame_size(std::string_view data) {
    const std::size_t n = ZSTD_findFrameCompressedSize(data.data(), data.size());
    if (ZSTD_isError(n)) {
        return fail(ErrorCode::corrupt, "not a complete zstd frame: {}", ZSTD_getErrorName(n));
    }
    return n;
}

Status zstd_compress_to(std::string_view input, int level,
                        const std::function<Status(std::string_view)>& sink) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
    ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setPledgedSrcSize(ctx.get(), input.size());  // the frame records the size
    std::string chunk(1 << 20, '\0');
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
        ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
        const std::size_t remaining = ZSTD_compressStream2(ctx.get(), &out, &in, ZSTD_e_end);
        if (ZSTD_isError(remaining)) {
            return fail(ErrorCode::internal, "zstd compression failed: {}",
                        ZSTD_getErrorName(remaining));
        }
        if (out.pos > 0) LB_CHECK(sink(std::string_view(chunk.data(), out.pos)));
        if (remaining == 0) return {};
    }
}

Status zstd_decompress_to(std::string_view frame, std::uint64_t expected_size,
                          const std::function<Status(std::string_view)>& sink) {
    const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) return fail(ErrorCode::corrupt, "not a zstd frame");
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size) {
        return fail(ErrorCode::corrupt, "zstd frame holds {} bytes, expected {}", declared,
                    expected_size);
    }
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::string chunk(std::size_t{1} << 20, '\0');
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    std::uint64_t produced = 0;
    for (;;) {
        const std::size_t in_before = in.pos;
        ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
        const std::size_t pending = ZSTD_decompressStream(ctx.get(), &out, &in);
        if (ZSTD_isError(pending)) {
            return fail(ErrorCode::corrupt, "zstd frame cannot be decoded: {}",
                        ZSTD_getErrorName(pending));
        }
        produced += out.pos;
        if (produced > expected_size) {
            return fail(ErrorCode::corrupt, "zstd frame holds more than the {} bytes expected",
                        expected_size);
        }
        if (out.pos > 0) LB_CHECK(sink(std::string_view(chunk.data(), out.pos)));
        if (pending == 0 && in.pos == in.size) break;
        // A full output buffer may hold back more output without reading input.
        if (out.pos == 0 && in.pos == in_before)
            return fail(ErrorCode::corrupt, "zstd frame cannot be decoded: it is truncated");
    }
    if (produced != expected_size) {
        return fail(ErrorCode::corrupt, "zstd frame holds {} bytes, expected {}", produced,
                    expected_size);
    }
    return {};
}

Result<std::string> zstd_compress(std::string_view input, int level) {
    Compressor c(level);
    std::string out;
    LB_CHECK(c.compress(input, out));
    return out;
}

Result<std::string> zstd_decompress(std::string_view frame) {
    const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
        return fail(ErrorCode::corrupt, "not a zstd frame with a known size");
    }
    if (size > (1ull << 32)) return fail(ErrorCode::corrupt, "zstd frame claims {} bytes", size);
    Decompressor d;
    std::string out;
    LB_CHECK(d.decompress(frame, static_cast<std::size_t>(size), out));
    return out;
}

}  // namespace lifeboat
