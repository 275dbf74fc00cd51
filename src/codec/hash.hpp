// SHA-256, the hash of block ids and object trailers (incremental or one-shot), and XXH3-128,
// the fast checksum a stored block carries beside its id (repository/block.hpp).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace lifeboat {

using Digest = std::array<unsigned char, 32>;

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view data);
    Digest finish();  // the object may not be updated afterwards

  private:
    void* m_ctx;
};

Digest sha256(std::string_view data);
std::string digest_bytes(const Digest& d);  // 32 raw bytes
std::string digest_hex(const Digest& d);    // 64 hex characters

// XXH3-128 of `data` in its canonical (big-endian) byte order. Not a cryptographic hash: it
// detects damage, not forgery; it runs at memory speed (~20x SHA-256 with the SHA instructions).
using Checksum128 = std::array<unsigned char, 16>;
Checksum128 xxh3_128(std::string_view data);

}  // namespace lifeboat
