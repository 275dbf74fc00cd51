#include "repository/block.hpp"

#include "codec/crypto.hpp"
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

Status decode_block(std::string_view stored, const BlockId& id, const BlockPlacement& placement,
                    BlockReader& reader, std::string& out, const BlockHasher& hasher) {
    if (placement.codec == BlockCodec::zstd) {
        LB_CHECK(reader.decompressor.decompress(stored, placement.raw_length, out));
    } else if (placement.codec == BlockCodec::raw) {
        out.assign(stored);
    } else {
        return fail(ErrorCode::corrupt, "unknown block codec {}",
                    static_cast<int>(placement.codec));
    }
    if (hasher(out) != id) {
        return fail(ErrorCode::corrupt, "block {} does not match its id (damaged data)", id.hex());
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
