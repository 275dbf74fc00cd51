#include "repository/pack.hpp"

#include <random>

#include "repository/byte_reader.hpp"
#include "repository/object.hpp"
#include "util/endian.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

namespace {
constexpr std::size_t k_entry_size = 32 + 8 + 4 + 4 + 1 + 3;

}  // namespace

bool is_pack_id(std::string_view id) {
    return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

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

Result<PackSummary> parse_pack_payload(std::string_view payload, std::string_view pack_id,
                                       std::string_view key, std::uint64_t object_size) {
    ByteReader r(payload, key, "pack footer");
    if (payload.size() < 8) {
        return std::unexpected(
            r.corrupt("footer_length",
                      fmt::format("missing: the payload has only {} bytes", payload.size())));
    }
    LB_CHECK(r.seek(payload.size() - 4, "footer_length"));
    const std::uint32_t footer_length = LB_TRY(r.read_u32_le("footer_length"));
    if (footer_length < 4 || footer_length > payload.size() - 4) {
        return std::unexpected(r.corrupt(
            "footer_length",
            fmt::format("{} does not fit the {}-byte payload", footer_length, payload.size())));
    }
    const std::size_t footer_at = payload.size() - 4 - footer_length;
    LB_CHECK(r.seek(footer_at, "footer"));
    ByteReader footer(LB_TRY(r.read_bytes(footer_length, "footer")), key, "pack footer");
    const std::uint32_t count = LB_TRY(footer.read_u32_le("entry_count"));
    if (std::uint64_t{count} * k_entry_size != footer.remaining()) {
        return std::unexpected(footer.corrupt(
            "entry_count",
            fmt::format("{} does not match the {} bytes of entries", count, footer.remaining())));
    }
    PackSummary summary{std::string(pack_id), object_size, {}};
    summary.entries.reserve(count);  // bounded by the footer's length, checked above
    const std::uint64_t blobs_end = k_header_size + footer_at;
    for (std::uint32_t i = 0; i < count; ++i) {
        PackEntry e;
        const std::string_view digest = LB_TRY(footer.read_bytes(32, "entry block_id"));
        std::memcpy(e.id.digest.data(), digest.data(), digest.size());
        e.placement.offset = LB_TRY(footer.read_u64_le("entry offset"));
        e.placement.stored_length = LB_TRY(footer.read_u32_le("entry stored_length"));
        e.placement.raw_length = LB_TRY(footer.read_u32_le("entry raw_length"));
        e.placement.codec = static_cast<BlockCodec>(LB_TRY(footer.read_u8("entry codec")));
        LB_CHECK(footer.skip(3, "entry reserved"));
        if (e.placement.offset < k_header_size ||
            !range_within(e.placement.offset, e.placement.stored_length, blobs_end)) {
            return std::unexpected(
                footer.corrupt(fmt::format("entry {} offset", i),
                               fmt::format("{} (length {}) lies outside the blobs, bytes {}..{}",
                                           e.placement.offset, e.placement.stored_length,
                                           k_header_size, blobs_end)));
        }
        summary.entries.push_back(e);
    }
    LB_CHECK(footer.expect_end());
    return summary;
}

Result<PackSummary> read_pack_summary(const Storage& storage, const std::string& pack_id) {
    const std::string key = pack_key(pack_id);
    const std::string bytes = LB_TRY(storage.read(key));
    const std::string payload = LB_TRY(decode_object(bytes, ObjectKind::pack, key));
    return parse_pack_payload(payload, pack_id, key, bytes.size());
}

}  // namespace lifeboat::repo
