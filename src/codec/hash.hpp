// SHA-256, the hash of block ids and object trailers. Incremental or one-shot.
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

}  // namespace lifeboat
