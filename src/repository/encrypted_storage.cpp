#include "repository/encrypted_storage.hpp"

#include "codec/crypto.hpp"
#include "repository/byte_reader.hpp"
#include "util/endian.hpp"

namespace lifeboat::repo {

namespace {

constexpr std::string_view k_magic = "LBENC001";
constexpr std::size_t k_envelope_header_size = 8 + 8 + 4;
constexpr std::uint32_t k_chunk_size = 64 * 1024;
constexpr std::uint64_t k_sealed_chunk = k_chunk_size + k_gcm_tag_size;

std::string nonce_for(std::string_view prefix, std::uint32_t index) {
    std::string nonce(prefix);
    for (int shift = 24; shift >= 0; shift -= 8)
        nonce.push_back(static_cast<char>((index >> shift) & 0xff));
    return nonce;
}

std::string aad_for(const std::string& key, std::uint32_t index, bool last) {
    std::string aad = key;
    put_le<std::uint32_t>(aad, index);
    aad.push_back(last ? 1 : 0);
    return aad;
}

struct Layout {
    std::uint64_t chunks = 0;
    std::uint64_t plaintext = 0;
};

Result<Layout> layout_of(std::uint64_t stored, const std::string& key) {
    if (stored < k_envelope_header_size + k_gcm_tag_size) {
        return fail(ErrorCode::corrupt, "{}: encrypted object truncated", key);
    }
    const std::uint64_t body = stored - k_envelope_header_size;
    Layout l;
    l.chunks = (body + k_sealed_chunk - 1) / k_sealed_chunk;
    l.plaintext = body - l.chunks * k_gcm_tag_size;
    return l;
}

Status check_header(std::string_view header, const std::string& key) {
    ByteReader r(header, key, "encrypted object header");
    const auto magic = r.read_bytes(k_magic.size(), "magic");
    if (!magic || *magic != k_magic) {
        return fail(ErrorCode::corrupt,
                    "{}: not an encrypted Lifeboat object (is this repository encrypted?)", key);
    }
    LB_CHECK(r.skip(8, "nonce_prefix"));
    if (LB_TRY(r.read_u32_le("chunk_size")) != k_chunk_size) {
        return fail(ErrorCode::corrupt, "{}: unsupported encryption chunk size", key);
    }
    return {};
}

}  // namespace

std::uint64_t encrypted_plaintext_size(std::uint64_t stored_size) {
    auto l = layout_of(stored_size, "");
    return l ? l->plaintext : 0;
}

class EncryptedUpload final : public Upload {
  public:
    EncryptedUpload(const EncryptedStorage& storage, std::string key, std::string prefix,
                    std::unique_ptr<Upload> inner)
        : m_storage(storage),
          m_key(std::move(key)),
          m_prefix(std::move(prefix)),
          m_inner(std::move(inner)) {}

    Status start() {
        std::string header(k_magic);
        header += m_prefix;
        put_le<std::uint32_t>(header, k_chunk_size);
        return m_inner->append(header);
    }
    Status append(std::string_view data) override {
        m_size += data.size();
        while (!data.empty()) {
            const std::size_t take = std::min(data.size(), k_chunk_size - m_pending.size());
            m_pending.append(data.substr(0, take));
            data.remove_prefix(take);
            // A full chunk is sealed only when more data follows: the last chunk must be short.
            if (m_pending.size() == k_chunk_size && !data.empty()) LB_CHECK(seal(false));
        }
        return {};
    }
    std::uint64_t size() const override { return m_size; }
    Status commit() override {
        if (m_pending.size() == k_chunk_size) LB_CHECK(seal(false));
        LB_CHECK(seal(true));
        return m_inner->commit();
    }

  private:
    Status seal(bool last) {
        const std::string sealed =
            LB_TRY(aes_gcm_seal(m_storage.m_key, nonce_for(m_prefix, m_index),
                                aad_for(m_key, m_index, last), m_pending));
        LB_CHECK(m_inner->append(sealed));
        ++m_index;
        m_pending.clear();
        return {};
    }

    const EncryptedStorage& m_storage;
    std::string m_key;
    std::string m_prefix;
    std::unique_ptr<Upload> m_inner;
    std::string m_pending;
    std::uint32_t m_index = 0;
    std::uint64_t m_size = 0;
};

EncryptedStorage::EncryptedStorage(std::unique_ptr<Storage> inner, std::string key)
    : ForwardingStorage(std::move(inner)), m_key(std::move(key)) {}

Result<std::string> EncryptedStorage::read(const std::string& key) const {
    const std::string stored = LB_TRY(inner().read(key));
    LB_CHECK(check_header(stored, key));
    const Layout l = LB_TRY(layout_of(stored.size(), key));
    const std::string_view prefix = std::string_view(stored).substr(8, 8);
    std::string out;
    out.reserve(l.plaintext);
    for (std::uint64_t i = 0; i < l.chunks; ++i) {
        const std::size_t at = k_envelope_header_size + i * k_sealed_chunk;
        const std::string_view sealed = std::string_view(stored).substr(
            at, std::min<std::uint64_t>(k_sealed_chunk, stored.size() - at));
        const auto index = static_cast<std::uint32_t>(i);
        auto plain = aes_gcm_open(m_key, nonce_for(prefix, index),
                                  aad_for(key, index, i + 1 == l.chunks), sealed);
        if (!plain) return std::unexpected(plain.error().context("{}", key));
        out += *plain;
    }
    return out;
}

Result<std::string> EncryptedStorage::read_range(const std::string& key, std::uint64_t offset,
                                                 std::size_t length) const {
    // A ranged read takes several requests (size, header, chunks). Repository objects never
    // change, but a replaced object (Overwrite::allow) could be seen half old, half new, which
    // fails authentication: read again before calling it damage.
    auto result = read_range_once(key, offset, length);
    for (int attempt = 1; attempt < 3 && !result && result.error().code == ErrorCode::corrupt;
         ++attempt) {
        result = read_range_once(key, offset, length);
    }
    return result;
}

Result<std::string> EncryptedStorage::read_range_once(const std::string& key, std::uint64_t offset,
                                                      std::size_t length) const {
    const ObjectInfo info = LB_TRY(inner().stat(key));
    const Layout l = LB_TRY(layout_of(info.size, key));
    if (offset + length > l.plaintext) {
        return fail(ErrorCode::corrupt, "{}: object ends before byte {}", key, offset + length);
    }
    if (length == 0) return std::string();
    const std::string header = LB_TRY(inner().read_range(key, 0, k_envelope_header_size));
    LB_CHECK(check_header(header, key));
    const std::uint64_t first = offset / k_chunk_size;
    const std::uint64_t last = (offset + length - 1) / k_chunk_size;
    const std::uint64_t begin = k_envelope_header_size + first * k_sealed_chunk;
    const std::uint64_t end =
        std::min<std::uint64_t>(k_envelope_header_size + (last + 1) * k_sealed_chunk, info.size);
    const std::string stored = LB_TRY(inner().read_range(key, begin, end - begin));
    std::string plain;
    for (std::uint64_t i = first; i <= last; ++i) {
        const std::size_t at = (i - first) * k_sealed_chunk;
        const std::string_view sealed = std::string_view(stored).substr(
            at, std::min<std::uint64_t>(k_sealed_chunk, stored.size() - at));
        const auto index = static_cast<std::uint32_t>(i);
        auto chunk = aes_gcm_open(m_key, nonce_for(std::string_view(header).substr(8, 8), index),
                                  aad_for(key, index, i + 1 == l.chunks), sealed);
        if (!chunk) return std::unexpected(chunk.error().context("{}", key));
        plain += *chunk;
    }
    return plain.substr(offset - first * k_chunk_size, length);
}

Result<ObjectInfo> EncryptedStorage::stat(const std::string& key) const {
    ObjectInfo info = LB_TRY(inner().stat(key));
    info.size = LB_TRY(layout_of(info.size, key)).plaintext;
    return info;
}

Result<std::vector<ObjectInfo>> EncryptedStorage::list(const std::string& prefix) const {
    auto objects = LB_TRY(inner().list(prefix));
    for (auto& o : objects)
        o.size = encrypted_plaintext_size(o.size);
    return objects;
}

Status EncryptedStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    auto upload = LB_TRY(start_upload(key, overwrite));
    LB_CHECK(upload->append(data));
    return upload->commit();
}

Result<std::unique_ptr<Upload>> EncryptedStorage::start_upload(const std::string& key,
                                                               Overwrite overwrite) {
    auto sealed = LB_TRY(inner().start_upload(key, overwrite));
    auto upload =
        std::make_unique<EncryptedUpload>(*this, key, LB_TRY(random_bytes(8)), std::move(sealed));
    LB_CHECK(upload->start());
    return std::unique_ptr<Upload>(std::move(upload));
}

}  // namespace lifeboat::repo
