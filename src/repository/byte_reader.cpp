#include "repository/byte_reader.hpp"

#include "util/endian.hpp"

namespace lifeboat::repo {

Error ByteReader::corrupt(std::string_view field, std::string_view problem) const {
    return Error{ErrorCode::corrupt,
                 fmt::format("{}: malformed {}: {} {}", m_object, m_structure, field, problem)};
}

Status ByteReader::need(std::uint64_t length, std::string_view field) const {
    if (length > remaining()) {
        return std::unexpected(
            corrupt(field, fmt::format("at byte {} needs {} bytes, the {} has only {} left", m_at,
                                       length, m_structure, remaining())));
    }
    return {};
}

Result<std::uint8_t> ByteReader::read_u8(std::string_view field) {
    LB_CHECK(need(1, field));
    return static_cast<std::uint8_t>(m_bytes[m_at++]);
}

Result<std::uint32_t> ByteReader::read_u32_le(std::string_view field) {
    LB_CHECK(need(4, field));
    const auto value = get_le<std::uint32_t>(m_bytes, m_at);
    m_at += 4;
    return value;
}

Result<std::uint64_t> ByteReader::read_u64_le(std::string_view field) {
    LB_CHECK(need(8, field));
    const auto value = get_le<std::uint64_t>(m_bytes, m_at);
    m_at += 8;
    return value;
}

Result<std::string_view> ByteReader::read_bytes(std::uint64_t length, std::string_view field) {
    LB_CHECK(need(length, field));
    const std::string_view out = m_bytes.substr(m_at, static_cast<std::size_t>(length));
    m_at += out.size();
    return out;
}

Status ByteReader::skip(std::uint64_t length, std::string_view field) {
    LB_CHECK(need(length, field));
    m_at += static_cast<std::size_t>(length);
    return {};
}

Status ByteReader::seek(std::uint64_t offset, std::string_view field) {
    if (offset > m_bytes.size()) {
        return std::unexpected(corrupt(field, fmt::format("points to byte {} of a {}-byte {}",
                                                          offset, m_bytes.size(), m_structure)));
    }
    m_at = static_cast<std::size_t>(offset);
    return {};
}

Status ByteReader::expect_end() const {
    if (remaining() != 0) {
        return std::unexpected(
            corrupt("end", fmt::format("expected at byte {}, {} bytes follow", m_at, remaining())));
    }
    return {};
}

}  // namespace lifeboat::repo
