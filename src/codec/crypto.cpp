#include "codec/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

namespace lifeboat {

namespace {
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) {
    return reinterpret_cast<unsigned char*>(s.data());
}

Result<std::string> derive(const char* kdf_name, OSSL_PARAM* params, std::size_t length) {
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, kdf_name, nullptr);
    if (!kdf) return fail(ErrorCode::internal, "OpenSSL lacks {}", kdf_name);
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    std::string out(length, '\0');
    const int ok = ctx && EVP_KDF_derive(ctx, bytes(out), out.size(), params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok) return fail(ErrorCode::internal, "{} key derivation failed", kdf_name);
    return out;
}
}  // namespace

Result<std::string> random_bytes(std::size_t count) {
    std::string out(count, '\0');
    if (RAND_bytes(bytes(out), static_cast<int>(count)) != 1) {
        return fail(ErrorCode::internal, "the system random source failed");
    }
    return out;
}

Result<std::string> aes_gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                                 std::string_view plaintext) {
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    std::string out(plaintext.size() + k_gcm_tag_size, '\0');
    int len = 0;
    if (!ctx || key.size() != k_key_size || nonce.size() != k_gcm_nonce_size ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) !=
            1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out), &len, bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out) + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, k_gcm_tag_size,
                            bytes(out) + plaintext.size()) != 1) {
        return fail(ErrorCode::internal, "AES-256-GCM encryption failed");
    }
    return out;
}

Result<std::string> aes_gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                 std::string_view sealed) {
    if (sealed.size() < k_gcm_tag_size) return fail(ErrorCode::corrupt, "encrypted data truncated");
    const std::size_t length = sealed.size() - k_gcm_tag_size;
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    std::string out(length, '\0');
    std::string tag(sealed.substr(length));
    int len = 0;
    if (!ctx || key.size() != k_key_size || nonce.size() != k_gcm_nonce_size ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) !=
            1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(out), &len, bytes(sealed), static_cast<int>(length)) !=
            1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, k_gcm_tag_size, tag.data()) != 1) {
        return fail(ErrorCode::internal, "AES-256-GCM setup failed");
    }
    if (EVP_DecryptFinal_ex(ctx.get(), bytes(out) + len, &len) != 1) {
        return fail(ErrorCode::corrupt,
                    "authentication failed: wrong key, or the data was altered");
    }
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    std::string out(32, '\0');
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
         bytes(out), &len);
    return out;
}

Result<std::string> hkdf_sha256(std::string_view secret, std::string_view info) {
    std::string digest = "SHA256";
    std::string secret_copy(secret), info_copy(info);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret_copy.data(),
                                          secret_copy.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info_copy.data(), info_copy.size()),
        OSSL_PARAM_construct_end()};
    return derive("HKDF", params, k_key_size);
}

Result<std::string> scrypt_key(std::string_view passphrase, std::string_view salt,
                               const ScryptParams& p) {
    std::string pass(passphrase), salt_copy(salt);
    std::uint64_t n = p.n;
    std::uint32_t r = p.r, par = p.p;
    std::uint64_t maxmem = 256ull * 1024 * 1024;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pass.data(), pass.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_copy.data(), salt_copy.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end()};
    return derive("SCRYPT", params, k_key_size);
}

}  // namespace lifeboat
