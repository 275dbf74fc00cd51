// zstd compression with a reusable context per thread. Each call produces or consumes one
// complete zstd frame (the frame records its content size, which decompression checks).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

class Compressor {
  public:
    explicit Compressor(int level);
    ~Compressor();
    Compressor(const Compressor&) = delete;
    Compressor& operator=(const Compressor&) = delete;
    // Replaces `out` with one zstd frame holding `input`.
    Status compress(std::string_view input, std::string& out);

  private:
    void* m_ctx;
    int m_level;
};

class Decompressor {
  public:
    Decompressor();
    ~Decompressor();
    Decompressor(const Decompressor&) = delete;
    Decompressor& operator=(const Decompressor&) = delete;
    // Replaces `out` with the content of the frame; fails (ErrorCode::corrupt) when the frame is
    // malformed or its size differs from `expected_size`. Memory grows with the bytes the frame
    // actually yields, so neither a crafted frame header nor a crafted `expected_size` makes it
    // allocate more than the frame decodes to.
    Status decompress(std::string_view frame, std::size_t expected_size, std::string& out);

  private:
    void* m_ctx;
};

// Compresses `input` into one zstd frame handed to `sink` in pieces of at most 1 MiB, so a large
// input never needs a second buffer of its size.
Status zstd_compress_to(std::string_view input, int level,
                        const std::function<Status(std::string_view)>& sink);

// Decodes one zstd frame, handing its content to `sink` in pieces of at most 1 MiB, so a large
// content never needs a buffer of its size. Fails (ErrorCode::corrupt) as Decompressor::decompress
// does: a malformed frame, or content of another size than `expected_size`. That may be known
// only after pieces were handed over: a caller keeps them out of sight until this succeeds.
Status zstd_decompress_to(std::string_view frame, std::uint64_t expected_size,
                          const std::function<Status(std::string_view)>& sink);

// The size of the zstd frame (or skippable frame) `data` starts with; ErrorCode::corrupt when
// `data` does not start with a complete one.
Result<std::size_t> zstd_frame_size(std::string_view data);

// One-shot helpers for small metadata objects.
Result<std::string> zstd_compress(std::string_view input, int level);
Result<std::string> zstd_decompress(std::string_view frame);

}  // namespace lifeboat
