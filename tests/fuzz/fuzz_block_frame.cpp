// Fuzz target: one stored block as decode_block reads it (repository/block.hpp): a zstd frame,
// perhaps followed by the block's checksum frame. The input's first 4 bytes (u32le, at most
// 1 MiB) are the length the index would claim; the rest is the stored block. Both checks must
// reject what they cannot prove and never read or allocate past what the input allows.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/hash.hpp"
#include "repository/block.hpp"
#include "util/endian.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.size() < 4) return 0;
    const std::uint32_t raw_length = get_le<std::uint32_t>(input, 0) % (1u << 20);
    const std::string_view stored = input.substr(4);
    const BlockPlacement placement{.offset = 0,
                                   .stored_length = static_cast<std::uint32_t>(stored.size()),
                                   .raw_length = raw_length,
                                   .codec = BlockCodec::zstd};
    BlockReader reader;
    std::string block;
    // An id the input cannot match unless it decodes to these bytes.
    const BlockId id = BlockId::of("fuzz");
    if (decode_block(stored, id, placement, reader, block, {}, BlockCheck::id)) {
        if (block != "fuzz") __builtin_trap();
    }
    if (decode_block(stored, id, placement, reader, block, {}, BlockCheck::stored_checksum)) {
        if (block.size() != raw_length) __builtin_trap();
        // Accepted without the id only after a checksum frame that matches what was decoded;
        // a block without one is accepted only as its id says.
        if (block != "fuzz") {
            if (stored.size() < k_block_checksum_size) __builtin_trap();
            const Checksum128 checksum = xxh3_128(block);
            const std::string_view expected(reinterpret_cast<const char*>(checksum.data()),
                                            checksum.size());
            if (stored.substr(stored.size() - checksum.size()) != expected) __builtin_trap();
        }
    }
    return 0;
}
