// EncryptedStorage: wraps another Storage so that every object is stored encrypted and
// authenticated (docs/repository-format.md, "Encryption"). Object names are unchanged; contents
// are cut into 64 KiB chunks, each sealed with AES-256-GCM:
//
//   object   := magic:"LBENC001" nonce_prefix[8] chunk_size:u32le chunk+
//   chunk    := AES-256-GCM(key, nonce_prefix || u32be(i), aad, plaintext_i) (ciphertext || tag)
//   aad      := object key || u32le(i) || u8(is_last)
//
// Every chunk but the last is full; the last has 0..chunk_size-1 bytes, so the plaintext size
// follows from the object size. Binding the key and the chunk position into the AAD makes
// swapping, reordering or truncating chunks (or whole objects) fail authentication. Ranged reads
// decrypt only the chunks they touch. The repository's `config` object (which says how to derive
// the key) is the one object passed through unencrypted. Removal, features and the local-files
// side pass through unchanged (ForwardingStorage).
#pragma once

#include <memory>

#include "storage/forwarding_storage.hpp"

namespace lifeboat::repo {

class EncryptedStorage final : public ForwardingStorage {
  public:
    EncryptedStorage(std::unique_ptr<Storage> inner, std::string key);

    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;

  private:
    friend class EncryptedUpload;
    Result<std::string> read_range_once(const std::string& key, std::uint64_t offset,
                                        std::size_t length) const;
    std::string m_key;
};

// Plaintext size of an encrypted object of `stored_size` bytes (0 if malformed).
std::uint64_t encrypted_plaintext_size(std::uint64_t stored_size);

}  // namespace lifeboat::repo
