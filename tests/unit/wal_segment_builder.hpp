// Synthetic WAL segments for tests: records laid out the way PostgreSQL 15 writes them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace lifeboat::testing {

inline constexpr std::size_t k_page = 8192;
inline constexpr std::size_t k_segment = 1 << 20;

inline std::uint32_t crc32c(const std::string& data, std::uint32_t crc = 0xFFFFFFFFu) {
    for (unsigned char byte : data) {
        crc ^= byte;
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return crc;
}

template <typename T>
void put(std::string& s, std::size_t at, T value) {
    std::memcpy(&s[at], &value, sizeof value);
}

template <typename T>
std::string raw(T value) {
    std::string s(sizeof value, '\0');
    std::memcpy(s.data(), &value, sizeof value);
    return s;
}

// A record body of `n` bytes (0, or 2 and more) that decodes as main data only, as a real
// record without block references would.
inline std::string filler(std::size_t n) {
    if (n == 0) return "";
    if (n == 1) return "\xFF";  // cannot be valid: one byte is no header
    if (n < 2 + 256)
        return "\xFF" + std::string(1, static_cast<char>(n - 2)) + std::string(n - 2, 'f');
    const auto length = static_cast<std::uint32_t>(n - 5);
    std::string out = "\xFE" + std::string(4, '\0');
    std::memcpy(out.data() + 1, &length, 4);
    return out + std::string(length, 'f');
}

// Writes WAL the way the server lays it out: records MAXALIGNed, page headers interleaved, a
// record crossing a page boundary continued under a XLP_FIRST_IS_CONTRECORD header.
class SegmentBuilder {
  public:
    // `continued` bytes of a record from the previous segment come first.
    // `segments` > 1 writes that many consecutive segments as one stream (split them with
    // segment()); the pages starting a later segment get short headers, which readers accept.
    explicit SegmentBuilder(std::size_t continued = 0, std::size_t segments = 1)
        : m_bytes(segments * k_segment, '\0') {
        header(0, continued > 0 ? 0x0003 : 0x0002, continued);
        put<std::uint64_t>(m_bytes, 24, 0x1234);     // system id
        put<std::uint32_t>(m_bytes, 32, k_segment);  // segment size
        put<std::uint32_t>(m_bytes, 36, k_page);     // page size
        m_pos = 40;
        stream(std::string(continued, 'c'));
    }

    // Appends a record with the given rmgr, info and body (block headers + data); returns its
    // start offset.
    std::size_t record(std::uint8_t rmid, std::uint8_t info, const std::string& body,
                       bool good_crc = true) {
        std::string rec(24, '\0');
        put<std::uint32_t>(rec, 0, static_cast<std::uint32_t>(24 + body.size()));
        rec[16] = static_cast<char>(info);
        rec[17] = static_cast<char>(rmid);
        rec += body;
        std::uint32_t crc = crc32c(rec.substr(24));
        crc = crc32c(rec.substr(0, 20), crc) ^ 0xFFFFFFFFu;
        put<std::uint32_t>(rec, 20, good_crc ? crc : crc + 1);
        if (m_pos % k_page == 0) header(m_pos, 0, 0), m_pos += 24;
        const std::size_t start = m_pos;
        stream(rec);
        m_pos = (m_pos + 7) & ~std::size_t{7};
        return start;
    }

    // A transaction end record: optional extra headers, then the main data (time + padding).
    std::size_t xact(std::uint8_t info, std::int64_t pg_micros, const std::string& prefix = "",
                     bool good_crc = true) {
        const std::string main = raw(pg_micros) + std::string(4, 'x');
        const std::string data_header = "\xFF" + std::string(1, static_cast<char>(main.size()));
        return record(1, info, prefix + data_header + main, good_crc);
    }

    // A filler record after which `left` bytes remain on the page (0: the next record starts a
    // page).
    void pad_to_leave(std::size_t left) {
        while (room() < left + 24)
            record(10, 0, filler(2));
        record(10, 0, filler(room() - left - 24));
    }

    std::size_t position() const { return m_pos; }
    const std::string& bytes() const { return m_bytes; }
    std::string segment(std::size_t index) const {
        return m_bytes.substr(index * k_segment, k_segment);
    }

  private:
    std::size_t room() const { return m_pos % k_page == 0 ? k_page - 24 : k_page - m_pos % k_page; }

    void header(std::size_t at, std::uint16_t info, std::size_t remaining) {
        put<std::uint16_t>(m_bytes, at, 0xD110);
        put<std::uint16_t>(m_bytes, at + 2, info);
        put<std::uint32_t>(m_bytes, at + 4, 1);  // timeline
        put<std::uint64_t>(m_bytes, at + 8, 5 * k_segment + at);
        put<std::uint32_t>(m_bytes, at + 16, static_cast<std::uint32_t>(remaining));
    }

    // Copies `data` at the current position; runs off the segment end silently.
    void stream(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            if (m_pos >= m_bytes.size()) return;
            if (m_pos % k_page == 0) {
                header(m_pos, 0x0001, data.size() - done);
                m_pos += 24;
            }
            const std::size_t n = std::min(data.size() - done, k_page - m_pos % k_page);
            m_bytes.replace(m_pos, n, data, done, n);
            m_pos += n;
            done += n;
        }
    }

    std::string m_bytes;
    std::size_t m_pos = 0;
};

}  // namespace lifeboat::testing
