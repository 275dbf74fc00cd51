// Repository keys (docs/repository-format.md, "Encryption"). An encrypted repository has a random
// 32-byte master key, stored in its config object wrapped (AES-256-GCM) under a key-encryption
// key derived from either a key file (HKDF-SHA-256 of its contents) or a passphrase (scrypt,
// memory-hard). Two working keys are derived from the master key with HKDF: one encrypts
// objects, one keys the block-id HMAC.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "util/error.hpp"

namespace lifeboat::repo {

// Where the key comes from. The CLI fills it from --key-file / the repository's key_file /
// LIFEBOAT_KEY_FILE and LIFEBOAT_PASSPHRASE and passes it explicitly; nothing below the CLI reads
// keys from the environment.
struct KeySource {
    std::optional<std::filesystem::path> key_file;
    std::optional<std::string> passphrase;
    bool empty() const { return !key_file && !passphrase; }
};

struct EncryptionConfig {
    std::string cipher = "aes-256-gcm";
    std::string kdf;   // "key-file" or "scrypt"
    std::string salt;  // hex
    std::uint64_t scrypt_n = 0;
    std::uint32_t scrypt_r = 0;
    std::uint32_t scrypt_p = 0;
    std::string wrapped_key;  // hex: nonce || AES-256-GCM(master key) || tag
};

struct WorkingKeys {
    std::string object_key;
    std::string block_id_key;
};

// The shortest passphrase a new repository accepts.
inline constexpr std::size_t k_min_passphrase_length = 12;

// ErrorCode::usage, naming the repository at `location`, when `source` holds both a key file and
// a passphrase (which one was meant is anybody's guess).
Status check_key_source(const KeySource& source, const std::string& location);

// A new master key wrapped under `source`; returns the config to store and the working keys.
// Refused (ErrorCode::usage): no key, a key file and a passphrase at once, a passphrase shorter
// than k_min_passphrase_length, and the key file conditions of unlock_keys.
Result<std::pair<EncryptionConfig, WorkingKeys>> create_keys(const std::string& repository_id,
                                                             const std::string& location,
                                                             const KeySource& source);

// Unwraps the master key; ErrorCode::usage when no key was given, when both a key file and a
// passphrase were, or when the key file is not a regular file, is readable or writable by group
// or others, or holds fewer than 32 bytes; ErrorCode::corrupt ("wrong key") when it does not
// unwrap. Every message names the repository at `location`.
Result<WorkingKeys> unlock_keys(const EncryptionConfig& config, const std::string& repository_id,
                                const std::string& location, const KeySource& source);

}  // namespace lifeboat::repo
