#include "repository/block.hpp"

#include "codec/crypto.hpp"
#include "util/endian.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

std::optional<BlockId> BlockId::from_hex(std::string_view text) {
    if (text.size() != 64) return std::nullopt;
    auto bytes = lifeboat::from_hex(text);
    if (!bytes) return std::nullopt;
    BlockId id;
    std::memcpy(id.digest.data(), bytes->data(), id.digest.size());
    return id;
}

BlockId BlockHasher::operator()(std::string_view plaintext) const {
    if (m_key.empty()) return BlockId::of(plaintext);
    BlockId id;
    const std::string mac = hmac_sha256(m_key, plaintext);
    std::memcpy(id.digest.data(), mac.data(), id.digest.size());
    return id;
}

std::string pack_key(std::string_view pack_id) {
    return fmt::format("data/{}/{}", pack_id.substr(0, 2), pack_id);
}

namespace {

constexpr std::uint32_t k_checksum_magic = 0x184D2A5C;  // a zstd skippable frame's
constexpr std::uint32_t k_checksum_length = 16;

struct StoredFrame {
    std::string_view frame;
    std::optional<Checksum128> checksum;
};

// Splits a stored zstd block into its frame and the checksum after it, if any. Anything else
// after the frame is damage.
Result<StoredFrame> split_stored_frame(std::string_view stored) {
    const std::size_t frame_size = LB_TRY(zstd_frame_size(stored));
    StoredFrame out{.frame = stored.substr(0, frame_size)};
    const std::string_view rest = stored.substr(frame_size);
    if (rest.empty()) return out;
    if (rest.size() != k_block_checksum_size ||
        get_le<std::uint32_t>(rest, 0) != k_checksum_magic ||
        get_le<std::uint32_t>(rest, 4) != k_checksum_length) {
        return fail(ErrorCode::corrupt, "{} unexpected bytes after the block's zstd frame",
                    rest.size());
    }
    Checksum128 checksum{};
    std::memcpy(checksum.data(), rest.data() + 8, checksum.size());
    out.checksum = checksum;
    return out;
}

}  // namespace

void append_block_checksum(std::string& frame, std::string_view plaintext) {
    put_le(frame, k_checksum_magic);
    put_le(frame, k_checksum_length);
    const Checksum128 checksum = xxh3_128(plaintext);
    frame.append(reinterpret_cast<const char*>(checksum.data()), checksum.size());
}

Status decode_block(std::string_view stored, const BlockId& id, const BlockPlacement& placement,
                    BlockReader& reader, std::string& out, const BlockHasher& hasher,
                    BlockCheck check) {
    std::optional<Checksum128> checksum;
    if (placement.codec == BlockCodec::zstd) {
        const StoredFrame parts = LB_TRY(split_stored_frame(stored));
        LB_CHECK(reader.decompressor.decompress(parts.frame, placement.raw_length, out));
        checksum = parts.checksum;
    } else if (placement.codec == BlockCodec::raw) {
        out.assign(stored);
    } else {
        return fail(ErrorCode::corrupt, "unknown block codec {}",
                    static_cast<int>(placement.codec));
    }
    if (checksum) {
        if (xxh3_128(out) != *checksum) {
            return fail(ErrorCode::corrupt, "block {} does not match its checksum (damaged data)",
                        id.hex());
        }
        ++reader.checked.by_checksum;
    }
    if (check == BlockCheck::id || !checksum) {
        if (hasher(out) != id) {
            return fail(ErrorCode::corrupt, "block {} does not match its id (damaged data)",
                        id.hex());
        }
        ++reader.checked.by_id;
    }
    return {};
}

Status read_block(const Storage& storage, std::string_view pack_id, const BlockId& id,
                  const BlockPlacement& placement, BlockReader& reader, std::string& out,
                  const BlockHasher& hasher) {
    const std::string key = pack_key(pack_id);
    auto stored = storage.read_range(key, placement.offset, placement.stored_length);
    if (!stored && stored.error().code == ErrorCode::not_found) {
        // The index names a pack that is gone: the repository is damaged, not the request wrong.
        return fail(ErrorCode::corrupt, "block {}: pack {} is missing from the repository",
                    id.hex(), pack_id);
    }
    if (!stored) {
        return std::unexpected(stored.error().context("block {} in pack {}", id.hex(), pack_id));
    }
    auto status = decode_block(*stored, id, placement, reader, out, hasher);
    if (!status) return std::unexpected(status.error().context("pack {}", pack_id));
    return {};
}

}  // namespace lifeboat::repo
