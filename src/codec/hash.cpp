#include "codec/hash.hpp"

#include <openssl/evp.h>
// XXH3 compiled into this file: one library fewer for every start of the program to load.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

#include "util/hex.hpp"

namespace lifeboat {

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(m_ctx), EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(m_ctx));
}

void Sha256::update(std::string_view data) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(m_ctx), data.data(), data.size());
}

Digest Sha256::finish() {
    Digest d{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(m_ctx), d.data(), &len);
    return d;
}

Digest sha256(std::string_view data) {
    Digest d{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
    return d;
}

std::string digest_bytes(const Digest& d) {
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string digest_hex(const Digest& d) {
    return to_hex(digest_bytes(d));
}

Checksum128 xxh3_128(std::string_view data) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(data.data(), data.size()));
    Checksum128 out{};
    std::memcpy(out.data(), canonical.digest, out.size());
    return out;
}

}  // namespace lifeboat
