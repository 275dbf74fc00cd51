// Integer encodings: little-endian for the repository's binary structures, big-endian (network
// order, `bytes` wide) for PostgreSQL's protocols and the change logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lifeboat {

template <typename T>
void put_le(std::string& out, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
}

// Reads a T at `at`; the caller guarantees at + sizeof(T) <= in.size().
template <typename T>
T get_le(std::string_view in, std::size_t at) {
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        value |= static_cast<T>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    }
    return value;
}

// The low `bytes` bytes of `value`, most significant first.
inline void put_be(std::string& out, std::uint64_t value, std::size_t bytes) {
    for (std::size_t i = bytes; i-- > 0;)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads `bytes` bytes at `at`, most significant first; the caller guarantees they are there.
inline std::uint64_t get_be(std::string_view in, std::size_t at, std::size_t bytes) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i)
        value = (value << 8) | static_cast<unsigned char>(in[at + i]);
    return value;
}

}  // namespace lifeboat
