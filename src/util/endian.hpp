// Little-endian integer encoding for the repository's binary structures.
#pragma once

#include <cstddef>
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

}  // namespace lifeboat
