#include "repository/pack.hpp"

#include <random>

#include "repository/object.hpp"
#include "util/endian.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

namespace {
constexpr std::size_t k_entry_size = 32 + 8 + 4 + 4 + 1 + 3;

}  // namespace

std::string new_pack_id() {
    std::random_device rd;
    std::string bytes(32, '\0');
    for (std::size_t i = 0; i < bytes.size(); i += 4) {
        const std::uint32_t r = rd();
        std::memcpy(bytes.data() + i, &r, 4);
    }
    return to_hex(bytes);
}

PackWriter::PackWriter(std::string id, std::unique_ptr<Upload> upload)
    : m_id(std::move(id)), m_upload(std::move(upload)), m_hash(std::make_unique<Sha256>()) {}

Result<PackWriter> PackWriter::start(Storage& storage) {
    std::string id = new_pack_id();
    auto upload = LB_TRY(storage.start_upload(pack_key(id), Overwrite::never));
    PackWriter writer(std::move(id), std::move(upload));
    LB_CHECK(writer.write(encode_header(ObjectKind::pack, 0)));
    return writer;
}

Status PackWriter::write(std::string_view data) {
    m_hash->update(data);
    LB_CHECK(m_upload->append(data));
    m_size += data.size();
    return {};
}

Status PackWriter::add(const BlockId& id, std::string_view stored, std::uint32_t raw_length,
                       BlockCodec codec) {
    PackEntry entry{
        id, BlockPlacement{m_size, static_cast<std::uint32_t>(stored.size()), raw_length, codec}};
    LB_CHECK(write(stored));
    m_entries.push_back(entry);
    return {};
}

Result<PackSummary> PackWriter::finish() {
    std::string footer;
    footer.reserve(4 + m_entries.size() * k_entry_size + 4);
    put_le<std::uint32_t>(footer, static_cast<std::uint32_t>(m_entries.size()));
    for (const auto& e : m_entries) {
        footer.append(reinterpret_cast<const char*>(e.id.digest.data()), e.id.digest.size());
        put_le<std::uint64_t>(footer, e.placement.offset);
        put_le<std::uint32_t>(footer, e.placement.stored_length);
        put_le<std::uint32_t>(footer, e.placement.raw_length);
        footer.push_back(static_cast<char>(e.placement.codec));
        footer.append(3, '\0');
    }
    put_le<std::uint32_t>(footer, static_cast<std::uint32_t>(footer.size()));
    LB_CHECK(write(footer));
    const std::string trailer = digest_bytes(m_hash->finish());
    LB_CHECK(m_upload->append(trailer));
    m_size += trailer.size();
    LB_CHECK(m_upload->commit());
    return PackSummary{m_id, m_size, std::move(m_entries)};
}

Result<PackSummary> read_pack_summary(const Storage& storage, const std::string& pack_id) {
    const std::string key = pack_key(pack_id);
    const std::string bytes = LB_TRY(storage.read(key));
    const std::string payload = LB_TRY(decode_object(bytes, ObjectKind::pack, key));
    auto bad = [&](std::string_view why) {
        return fail(ErrorCode::corrupt, "{}: malformed pack footer ({})", key, why);
    };
    if (payload.size() < 8) return bad("too short");
    const auto footer_length = get_le<std::uint32_t>(payload, payload.size() - 4);
    // 64-bit arithmetic throughout: a crafted length must not wrap past the checks.
    if (std::uint64_t{footer_length} + 4 > payload.size() || footer_length < 4) {
        return bad("bad footer length");
    }
    const std::size_t footer_at = payload.size() - 4 - footer_length;
    const auto count = get_le<std::uint32_t>(payload, footer_at);
    if (4 + static_cast<std::size_t>(count) * k_entry_size != footer_length)
        return bad("bad entry count");
    PackSummary summary{pack_id, bytes.size(), {}};
    summary.entries.reserve(count);
    const std::uint64_t blobs_end = k_header_size + footer_at;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::size_t at = footer_at + 4 + i * k_entry_size;
        PackEntry e;
        std::memcpy(e.id.digest.data(), payload.data() + at, 32);
        e.placement.offset = get_le<std::uint64_t>(payload, at + 32);
        e.placement.stored_length = get_le<std::uint32_t>(payload, at + 40);
        e.placement.raw_length = get_le<std::uint32_t>(payload, at + 44);
        e.placement.codec = static_cast<BlockCodec>(payload[at + 48]);
        if (e.placement.offset < k_header_size || e.placement.offset > blobs_end ||
            e.placement.stored_length > blobs_end - e.placement.offset) {
            return bad("entry outside the pack");
        }
        summary.entries.push_back(e);
    }
    return summary;
}

}  // namespace lifeboat::repo
