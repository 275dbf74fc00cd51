// Cryptographic primitives for encrypted repositories, all from OpenSSL: AES-256-GCM, HMAC-SHA-256,
// HKDF-SHA-256, scrypt, and random bytes. Keys are 32 raw bytes in std::string.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

inline constexpr std::size_t k_key_size = 32;
inline constexpr std::size_t k_gcm_nonce_size = 12;
inline constexpr std::size_t k_gcm_tag_size = 16;

Result<std::string> random_bytes(std::size_t count);

// ciphertext || tag. `nonce` must never repeat under one key.
Result<std::string> aes_gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                                 std::string_view plaintext);
// Fails with ErrorCode::corrupt when the tag does not verify (wrong key or altered data); never
// returns unauthenticated plaintext.
Result<std::string> aes_gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                 std::string_view sealed);

std::string hmac_sha256(std::string_view key, std::string_view data);
Result<std::string> hkdf_sha256(std::string_view secret, std::string_view info);

struct ScryptParams {
    std::uint64_t n = 1u << 15;  // 32 MiB of memory with r = 8
    std::uint32_t r = 8;
    std::uint32_t p = 1;
};
Result<std::string> scrypt_key(std::string_view passphrase, std::string_view salt,
                               const ScryptParams& params);

}  // namespace lifeboat
