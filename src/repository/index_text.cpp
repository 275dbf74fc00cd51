#include "repository/index_text.hpp"

#include <limits>
#include <string>

#include "repository/byte_reader.hpp"
#include "repository/object.hpp"

namespace lifeboat::repo {

namespace {

// Reads `text` front to back; every method consumes what it accepts and returns false, leaving
// the position unspecified, on anything else.
class Cursor {
  public:
    explicit Cursor(std::string_view text) : m_text(text) {}

    bool literal(std::string_view expected) {
        if (m_text.size() - m_pos < expected.size() ||
            m_text.compare(m_pos, expected.size(), expected) != 0)
            return false;
        m_pos += expected.size();
        return true;
    }

    // An unsigned decimal as fmt writes it (no sign, no leading zero), at most `max`.
    bool number(std::uint64_t max, std::uint64_t& out) {
        const std::size_t start = m_pos;
        std::uint64_t value = 0;
        while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9') {
            const auto digit = static_cast<std::uint64_t>(m_text[m_pos] - '0');
            if (value > (max - digit) / 10) return false;
            value = value * 10 + digit;
            ++m_pos;
        }
        if (m_pos == start || (m_text[start] == '0' && m_pos - start > 1)) return false;
        out = value;
        return true;
    }

    // A quoted string of 64 lower-case hex digits: its digits, decoded into `digest`.
    bool hex_digest(Digest& digest, std::string_view& digits) {
        if (m_text.size() - m_pos < 66 || m_text[m_pos] != '"' || m_text[m_pos + 65] != '"')
            return false;
        digits = m_text.substr(m_pos + 1, 64);
        for (std::size_t i = 0; i < digest.size(); ++i) {
            const int high = nibble(digits[2 * i]);
            const int low = nibble(digits[2 * i + 1]);
            if (high < 0 || low < 0) return false;
            digest[i] = static_cast<std::uint8_t>(high << 4 | low);
        }
        m_pos += 66;
        return true;
    }

    bool at_end() const { return m_pos == m_text.size(); }

  private:
    static int nibble(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

// One ["<block id>",offset,stored_length,raw_length,codec].
bool read_blob(Cursor& in, PackEntry& entry) {
    constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();
    std::string_view digits;
    std::uint64_t offset = 0, stored = 0, raw = 0, codec = 0;
    if (!in.literal("[") || !in.hex_digest(entry.id.digest, digits) || !in.literal(",") ||
        !in.number(std::numeric_limits<std::uint64_t>::max(), offset) || !in.literal(",") ||
        !in.number(u32_max, stored) || !in.literal(",") || !in.number(u32_max, raw) ||
        !in.literal(",") || !in.number(std::numeric_limits<std::uint8_t>::max(), codec) ||
        !in.literal("]"))
        return false;
    entry.placement =
        BlockPlacement{offset, static_cast<std::uint32_t>(stored), static_cast<std::uint32_t>(raw),
                       static_cast<BlockCodec>(codec)};
    return true;
}

// One {"blobs":[...],"id":"<pack id>","size":N}, checked as parse_index checks it.
bool read_pack(Cursor& in, PackSummary& pack) {
    if (!in.literal("{\"blobs\":[")) return false;
    if (!in.literal("]")) {
        do {
            PackEntry entry;
            if (!read_blob(in, entry)) return false;
            pack.entries.push_back(entry);
        } while (in.literal(","));
        if (!in.literal("]")) return false;
    }
    Digest id{};
    std::string_view digits;
    if (!in.literal(",\"id\":") || !in.hex_digest(id, digits) || !in.literal(",\"size\":") ||
        !in.number(std::numeric_limits<std::uint64_t>::max(), pack.size) || !in.literal("}"))
        return false;
    pack.id = std::string(digits);
    if (!is_pack_id(pack.id) || pack.size < k_header_size + k_trailer_size) return false;
    for (const auto& entry : pack.entries)
        if (!lies_within_pack(entry.placement, pack.size)) return false;
    return true;
}

}  // namespace

bool lies_within_pack(const BlockPlacement& placement, std::uint64_t pack_size) {
    if (pack_size < k_trailer_size) return false;
    return placement.offset >= k_header_size &&
           range_within(placement.offset, placement.stored_length, pack_size - k_trailer_size);
}

std::optional<std::vector<PackSummary>> parse_index_as_written(std::string_view text) {
    Cursor in(text);
    std::vector<PackSummary> packs;
    if (!in.literal("{\"packs\":[")) return std::nullopt;
    if (!in.literal("]")) {
        do {
            PackSummary pack;
            if (!read_pack(in, pack)) return std::nullopt;
            packs.push_back(std::move(pack));
        } while (in.literal(","));
        if (!in.literal("]")) return std::nullopt;
    }
    if (!in.literal("}") || !in.at_end()) return std::nullopt;
    return packs;
}

}  // namespace lifeboat::repo
