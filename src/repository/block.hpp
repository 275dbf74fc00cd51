// Block ids, block locations, and reading one block back from a pack.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "codec/compress.hpp"
#include "codec/hash.hpp"
#include "storage/storage.hpp"

namespace lifeboat::repo {

// SHA-256 of the block's plaintext.
struct BlockId {
    Digest digest{};
    bool operator==(const BlockId&) const = default;
    auto operator<=>(const BlockId&) const = default;  // byte order of the digest
    std::string hex() const { return digest_hex(digest); }
    static std::optional<BlockId> from_hex(std::string_view text);
    static BlockId of(std::string_view plaintext) { return BlockId{sha256(plaintext)}; }
};

struct BlockIdHash {
    std::size_t operator()(const BlockId& id) const {
        std::size_t h;
        std::memcpy(&h, id.digest.data(), sizeof h);
        return h;
    }
};

// How block ids are computed: SHA-256 of the plaintext, or in an encrypted repository
// HMAC-SHA-256 under a key derived from the repository key, so ids reveal nothing.
class BlockHasher {
  public:
    BlockHasher() = default;  // plain SHA-256
    static BlockHasher keyed(std::string key) {
        BlockHasher h;
        h.m_key = std::move(key);
        return h;
    }
    BlockId operator()(std::string_view plaintext) const;
    bool is_keyed() const { return !m_key.empty(); }

  private:
    std::string m_key;
};

enum class BlockCodec : std::uint8_t { raw = 0, zstd = 1 };

// Where a block lives inside a pack (offsets count from the start of the pack object).
struct BlockPlacement {
    std::uint64_t offset = 0;
    std::uint32_t stored_length = 0;
    std::uint32_t raw_length = 0;
    BlockCodec codec = BlockCodec::raw;
    bool operator==(const BlockPlacement&) const = default;
};

std::string pack_key(std::string_view pack_id);  // "data/ab/ab…"

// How decode_block checks a block.
enum class BlockCheck : std::uint8_t {
    // The decoded block is hashed again and compared with its id: proves both the bytes and the
    // id <-> content binding, at the cost of SHA-256 (HMAC-SHA-256 when keyed) of every byte.
    // `verify`, `copy` and `expire` check so (and so does everything by default).
    id,
    // A zstd block that carries its checksum (append_block_checksum) is checked against it:
    // any damage to the stored bytes is found as surely, for a twentieth of the CPU, but the
    // binding of content to id is taken as the writer recorded it (`verify` re-proves it).
    // Blocks without a checksum are checked against their id. Restore checks so.
    stored_checksum,
};

// A zstd block is stored as its frame followed by a zstd skippable frame holding the XXH3-128
// of the block's plaintext: magic 0x184D2A5C (u32le), length 16 (u32le), the checksum in its
// canonical byte order. zstd decoders skip that frame, so readers that predate it decode such
// blocks unchanged. Appends it to `frame`.
void append_block_checksum(std::string& frame, std::string_view plaintext);
inline constexpr std::size_t k_block_checksum_size = 24;  // what it appends

// How many blocks were checked, by which means (a block may be checked both ways). Carried
// from each thread's BlockReader up to restore's outcome, summed with +=.
struct BlockChecks {
    std::uint64_t by_id = 0;        // blocks hashed again and compared with their id
    std::uint64_t by_checksum = 0;  // blocks compared with their stored checksum

    BlockChecks& operator+=(const BlockChecks& other) {
        by_id += other.by_id;
        by_checksum += other.by_checksum;
        return *this;
    }
};

// Per-thread state for decoding blocks, and what decode_block checked with it.
struct BlockReader {
    Decompressor decompressor;
    std::string scratch;
    BlockChecks checked;
};

// Decodes a stored block and checks it as `check` says (and against its checksum whenever it
// carries one); ErrorCode::corrupt when it does not decode or does not match.
Status decode_block(std::string_view stored, const BlockId& id, const BlockPlacement& placement,
                    BlockReader& reader, std::string& out,
                    const BlockHasher& hasher = BlockHasher(), BlockCheck check = BlockCheck::id);

// Reads, decodes and checks one block of pack `pack_id`.
Status read_block(const Storage& storage, std::string_view pack_id, const BlockId& id,
                  const BlockPlacement& placement, BlockReader& reader, std::string& out,
                  const BlockHasher& hasher = BlockHasher());

}  // namespace lifeboat::repo
