#include "repository/keys.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "codec/crypto.hpp"
#include "util/fs.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

namespace {

constexpr std::size_t k_min_key_file_bytes = 32;

// Like ssh with a private key: a key that other accounts can read protects nothing.
Status check_key_file_mode(const std::filesystem::path& file, const std::string& location) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return {};  // reading it reports the real problem
    if (!S_ISREG(st.st_mode)) {
        return fail(ErrorCode::usage, "repository {}: key file {} is not a regular file", location,
                    file.string());
    }
    if ((st.st_mode & 077) != 0) {
        return fail(ErrorCode::usage,
                    "repository {}: permissions {:04o} on key file {} are too open (other "
                    "accounts can read it): chmod 600 {}",
                    location, st.st_mode & 07777, file.string(), file.string());
    }
    return {};
}

Result<std::string> key_encryption_key(const EncryptionConfig& config, const KeySource& source,
                                       const std::string& location) {
    const auto salt = from_hex(config.salt);
    if (!salt) {
        return fail(ErrorCode::corrupt, "repository {}: malformed encryption salt in its config",
                    location);
    }
    if (config.kdf == "key-file") {
        if (!source.key_file) {
            return fail(ErrorCode::usage,
                        "repository {} is encrypted with a key file: give --key-file FILE (or "
                        "LIFEBOAT_KEY_FILE, or key_file in its [repositories.NAME] table)",
                        location);
        }
        LB_CHECK(check_key_file_mode(*source.key_file, location));
        auto bytes = read_file(*source.key_file);
        if (!bytes) {
            return fail(ErrorCode::usage, "repository {}: cannot read key file {}: {}", location,
                        source.key_file->string(), bytes.error().message);
        }
        if (bytes->size() < k_min_key_file_bytes) {
            return fail(ErrorCode::usage,
                        "repository {}: key file {} holds {} bytes; it needs at least {} random "
                        "bytes (e.g. `head -c 32 /dev/urandom > FILE`)",
                        location, source.key_file->string(), bytes->size(), k_min_key_file_bytes);
        }
        return hkdf_sha256(*bytes + *salt, "lifeboat key file");
    }
    if (config.kdf == "scrypt") {
        if (!source.passphrase) {
            return fail(ErrorCode::usage,
                        "repository {} is encrypted with a passphrase: set LIFEBOAT_PASSPHRASE",
                        location);
        }
        return scrypt_key(*source.passphrase, *salt,
                          ScryptParams{config.scrypt_n, config.scrypt_r, config.scrypt_p});
    }
    return fail(ErrorCode::corrupt, "repository {}: unknown key derivation '{}'", location,
                config.kdf);
}

Result<WorkingKeys> working_keys(std::string_view master) {
    // One LB_TRY per statement (an early return from inside a braced initializer leaks).
    auto objects = LB_TRY(hkdf_sha256(master, "lifeboat objects"));
    auto block_ids = LB_TRY(hkdf_sha256(master, "lifeboat block ids"));
    return WorkingKeys{std::move(objects), std::move(block_ids)};
}

std::string wrap_aad(const std::string& repository_id) {
    return "lifeboat repository key " + repository_id;
}

}  // namespace

Status check_key_source(const KeySource& source, const std::string& location) {
    if (source.key_file && source.passphrase) {
        return fail(ErrorCode::usage,
                    "repository {}: both a key file ({}) and LIFEBOAT_PASSPHRASE are given; use "
                    "one of them",
                    location, source.key_file->string());
    }
    return {};
}

Result<std::pair<EncryptionConfig, WorkingKeys>> create_keys(const std::string& repository_id,
                                                             const std::string& location,
                                                             const KeySource& source) {
    if (source.empty()) {
        return fail(ErrorCode::usage,
                    "encrypted repository {} needs --key-file FILE or LIFEBOAT_PASSPHRASE",
                    location);
    }
    LB_CHECK(check_key_source(source, location));
    if (source.passphrase && source.passphrase->size() < k_min_passphrase_length) {
        return fail(ErrorCode::usage,
                    "repository {}: LIFEBOAT_PASSPHRASE has {} characters; a passphrase needs at "
                    "least {} (or use a key file: `head -c 32 /dev/urandom > FILE`)",
                    location, source.passphrase->size(), k_min_passphrase_length);
    }
    EncryptionConfig config;
    config.salt = to_hex(LB_TRY(random_bytes(16)));
    if (source.key_file) {
        config.kdf = "key-file";
    } else {
        config.kdf = "scrypt";
        const ScryptParams defaults;
        config.scrypt_n = defaults.n;
        config.scrypt_r = defaults.r;
        config.scrypt_p = defaults.p;
    }
    const std::string kek = LB_TRY(key_encryption_key(config, source, location));
    const std::string master = LB_TRY(random_bytes(k_key_size));
    const std::string nonce = LB_TRY(random_bytes(k_gcm_nonce_size));
    config.wrapped_key =
        to_hex(nonce + LB_TRY(aes_gcm_seal(kek, nonce, wrap_aad(repository_id), master)));
    return std::make_pair(config, LB_TRY(working_keys(master)));
}

Result<WorkingKeys> unlock_keys(const EncryptionConfig& config, const std::string& repository_id,
                                const std::string& location, const KeySource& source) {
    if (config.cipher != "aes-256-gcm") {
        return fail(ErrorCode::not_a_repository, "{} uses cipher '{}', which this Lifeboat lacks",
                    location, config.cipher);
    }
    LB_CHECK(check_key_source(source, location));
    const std::string kek = LB_TRY(key_encryption_key(config, source, location));
    const auto wrapped = from_hex(config.wrapped_key);
    if (!wrapped || wrapped->size() != k_gcm_nonce_size + k_key_size + k_gcm_tag_size) {
        return fail(ErrorCode::corrupt, "repository {}: malformed wrapped key in its config",
                    location);
    }
    auto master = aes_gcm_open(kek, wrapped->substr(0, k_gcm_nonce_size), wrap_aad(repository_id),
                               wrapped->substr(k_gcm_nonce_size));
    if (!master) {
        return fail(ErrorCode::corrupt,
                    "wrong key for encrypted repository {} (the key file or passphrase does not "
                    "unlock it)",
                    location);
    }
    return working_keys(*master);
}

}  // namespace lifeboat::repo
