// Helpers shared by the repository-layer unit tests: a scratch directory per test, deterministic
// content, byte surgery on stored objects, and error assertions.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "codec/hash.hpp"
#include "repository/object.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat {
// Prints error codes by name in assertion messages.
inline void PrintTo(ErrorCode code, std::ostream* os) {
    *os << error_code_name(code);
}
}  // namespace lifeboat

namespace lifeboat::repo::test_support {

// A fresh directory per test, removed afterwards; storage() is a PosixStorage over repo_path().
class ScratchTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-unit-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        m_storage = std::make_unique<PosixStorage>(repo_path());
    }
    const fs::path& scratch() const { return m_scratch->path(); }
    fs::path repo_path() const { return scratch() / "repo"; }
    PosixStorage& storage() { return *m_storage; }

  private:
    std::optional<TempDirectory> m_scratch;
    std::unique_ptr<PosixStorage> m_storage;
};

inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Deterministic bytes zstd cannot shrink.
inline std::string random_bytes(std::size_t size, std::uint64_t seed) {
    std::string out(size, '\0');
    std::uint64_t state = seed;
    for (std::size_t i = 0; i < size; i += 8) {
        state = splitmix64(state);
        for (std::size_t k = 0; k < 8 && i + k < size; ++k)
            out[i + k] = static_cast<char>(state >> (8 * k));
    }
    return out;
}

// Deterministic text that compresses well and differs for each seed.
inline std::string compressible_text(std::size_t size, std::uint64_t seed) {
    std::string out;
    out.reserve(size + 64);
    for (std::uint64_t line = 0; out.size() < size; ++line) {
        out += "seed " + std::to_string(seed) + " line " + std::to_string(line) +
               " of some tuple data\n";
    }
    out.resize(size);
    return out;
}

inline void put_u32le(std::string& bytes, std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i)
        bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

inline std::uint32_t get_u32le(std::string_view bytes, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= std::uint32_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
    return v;
}

inline std::uint64_t get_u64le(std::string_view bytes, std::size_t at) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
    return v;
}

// Recomputes the SHA-256 trailer of an object whose header or payload was edited, so that a test
// reaches the check it aims at instead of failing on the trailer.
inline std::string reseal(std::string object) {
    object.resize(object.size() - k_trailer_size);
    object += digest_bytes(sha256(object));
    return object;
}

inline std::string flip_byte(std::string bytes, std::size_t at, unsigned char mask = 0x01) {
    bytes[at] = static_cast<char>(bytes[at] ^ mask);
    return bytes;
}

// Succeeds when `result` failed with `code` and its message contains `needle`.
template <typename T>
::testing::AssertionResult fails_with(const std::expected<T, Error>& result, ErrorCode code,
                                      std::string_view needle = {}) {
    if (result)
        return ::testing::AssertionFailure() << "succeeded, expected " << error_code_name(code);
    if (result.error().code != code) {
        return ::testing::AssertionFailure()
               << "failed with " << error_code_name(result.error().code) << ", expected "
               << error_code_name(code) << ": " << result.error().message;
    }
    if (!needle.empty() && result.error().message.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message does not mention '" << needle << "': " << result.error().message;
    }
    return ::testing::AssertionSuccess();
}

}  // namespace lifeboat::repo::test_support
