#include "repository/keys.hpp"

#include <cstdlib>

#include "codec/crypto.hpp"
#include "util/fs.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

namespace {

constexpr std::size_t k_min_key_file_bytes = 32;

Result<std::string> key_encryption_key(const EncryptionConfig& config, const KeySource& source) {
    const auto salt = from_hex(config.salt);
    if (!salt)
        return fail(ErrorCode::corrupt, "malformed encryption salt in the repository config");
    if (config.kdf == "key-file") {
        if (!source.key_file) {
            return fail(ErrorCode::usage,
                        "this repository is encrypted with a key file: give --key-file FILE "
                        "(or LIFEBOAT_KEY_FILE)");
        }
        auto bytes = read_file(*source.key_file);
        if (!bytes) {
            return fail(ErrorCode::usage, "cannot read key file {}: {}", source.key_file->string(),
                        bytes.error().message);
        }
        if (bytes->size() < k_min_key_file_bytes) {
            return fail(ErrorCode::usage,
                        "key file {} holds {} bytes; it needs at least {} random bytes (e.g. "
                        "`head -c 32 /dev/urandom > FILE`)",
                        source.key_file->string(), bytes->size(), k_min_key_file_bytes);
        }
        return hkdf_sha256(*bytes + *salt, "lifeboat key file");
    }
    if (config.kdf == "scrypt") {
        if (!source.passphrase) {
            return fail(ErrorCode::usage,
                        "this repository is encrypted with a passphrase: set LIFEBOAT_PASSPHRASE");
        }
        return scrypt_key(*source.passphrase, *salt,
                          ScryptParams{config.scrypt_n, config.scrypt_r, config.scrypt_p});
    }
    return fail(ErrorCode::corrupt, "unknown key derivation '{}'", config.kdf);
}

Result<WorkingKeys> working_keys(std::string_view master) {
    return WorkingKeys{LB_TRY(hkdf_sha256(master, "lifeboat objects")),
                       LB_TRY(hkdf_sha256(master, "lifeboat block ids"))};
}

std::string wrap_aad(const std::string& repository_id) {
    return "lifeboat repository key " + repository_id;
}

}  // namespace

KeySource KeySource::from_environment() {
    KeySource source;
    if (const char* f = std::getenv("LIFEBOAT_KEY_FILE"); f && *f) source.key_file = f;
    if (const char* p = std::getenv("LIFEBOAT_PASSPHRASE"); p && *p) source.passphrase = p;
    return source;
}

Result<std::pair<EncryptionConfig, WorkingKeys>> create_keys(const std::string& repository_id,
                                                             const KeySource& source) {
    if (source.empty()) {
        return fail(ErrorCode::usage,
                    "an encrypted repository needs --key-file FILE or LIFEBOAT_PASSPHRASE");
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
    const std::string kek = LB_TRY(key_encryption_key(config, source));
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
    const std::string kek = LB_TRY(key_encryption_key(config, source));
    const auto wrapped = from_hex(config.wrapped_key);
    if (!wrapped || wrapped->size() != k_gcm_nonce_size + k_key_size + k_gcm_tag_size) {
        return fail(ErrorCode::corrupt, "{}: malformed wrapped key in the config", location);
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
