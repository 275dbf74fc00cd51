// ByteReader: the one way binary repository structures are parsed (object envelope, pack footers,
// WAL object heads, encrypted-object headers). Every read is bounds-checked against what is left;
// a read past the end, or a length that does not fit, is an ErrorCode::corrupt error that names
// the object (its key), the structure and the field, never an exception or an out-of-range access.
// Integers are little-endian, as everywhere in the format (docs/repository-format.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat::repo {

class ByteReader {
  public:
    // Reads `bytes` (which must outlive the reader). `object` and `structure` name what is read
    // in error messages: "<object>: malformed <structure>: <field> ...".
    ByteReader(std::string_view bytes, std::string_view object, std::string_view structure)
        : m_bytes(bytes), m_object(object), m_structure(structure) {}

    Result<std::uint8_t> read_u8(std::string_view field);
    Result<std::uint32_t> read_u32_le(std::string_view field);
    Result<std::uint64_t> read_u64_le(std::string_view field);
    // The next `length` bytes, as a view into the input. `length` is 64-bit so that a length
    // taken from the input is checked before anything narrows it.
    Result<std::string_view> read_bytes(std::uint64_t length, std::string_view field);
    Status skip(std::uint64_t length, std::string_view field);
    // Moves to byte `offset` of the input (forwards or backwards); fails past the end.
    Status seek(std::uint64_t offset, std::string_view field);
    // Fails unless every byte was read.
    Status expect_end() const;

    std::size_t position() const { return m_at; }
    std::size_t remaining() const { return m_bytes.size() - m_at; }
    std::size_t size() const { return m_bytes.size(); }

    // An ErrorCode::corrupt error naming the object, the structure and `field`.
    Error corrupt(std::string_view field, std::string_view problem) const;

  private:
    Status need(std::uint64_t length, std::string_view field) const;

    std::string_view m_bytes;
    std::string_view m_object;
    std::string_view m_structure;
    std::size_t m_at = 0;
};

// `offset + length <= limit`, computed without wrapping (a crafted offset near 2^64 must not pass).
constexpr bool range_within(std::uint64_t offset, std::uint64_t length, std::uint64_t limit) {
    return offset <= limit && length <= limit - offset;
}

}  // namespace lifeboat::repo
