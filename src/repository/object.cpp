#include "repository/object.hpp"

#include <cstring>

#include "codec/compress.hpp"
#include "repository/byte_reader.hpp"
#include "util/endian.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

namespace {
constexpr std::string_view k_magic = "LIFEBOAT";
constexpr std::uint32_t k_known_flags = k_flag_zstd_payload;

}  // namespace

std::string_view kind_tag(ObjectKind kind) {
    switch (kind) {
        case ObjectKind::config:
            return "CONF";
        case ObjectKind::pack:
            return "PACK";
        case ObjectKind::index:
            return "INDX";
        case ObjectKind::manifest:
            return "MNFT";
        case ObjectKind::drill:
            return "DRIL";
        case ObjectKind::pin:
            return "PINS";
        case ObjectKind::wal:
            return "WALF";
        case ObjectKind::cluster:
            return "CLST";
        case ObjectKind::wal_summary:
            return "WSUM";
    }
    return "????";
}

std::uint32_t current_version(ObjectKind kind) {
    return kind == ObjectKind::manifest ? 2 : 1;
}

std::uint32_t object_version(std::string_view bytes) {
    return bytes.size() >= 16 ? get_le<std::uint32_t>(bytes, 12) : 0;
}

std::string encode_header(ObjectKind kind, std::uint32_t flags) {
    std::string out(k_magic);
    out += kind_tag(kind);
    put_le<std::uint32_t>(out, current_version(kind));
    put_le<std::uint32_t>(out, flags);
    put_le<std::uint32_t>(out, 0);
    return out;
}

Result<std::string> encode_object(ObjectKind kind, std::string_view payload,
                                  PayloadCompression compression) {
    std::string out;
    if (compression == PayloadCompression::zstd) {
        out = encode_header(kind, k_flag_zstd_payload);
        out += LB_TRY(zstd_compress(payload, 3));
    } else {
        out = encode_header(kind, 0);
        out += payload;
    }
    out += digest_bytes(sha256(out));
    return out;
}

namespace {
// A kind tag as text for a message: printable ASCII as is, anything else in hex (one line).
std::string printable_tag(std::string_view tag) {
    for (const char c : tag) {
        if (c < 0x20 || c > 0x7e) return "0x" + to_hex(tag);
    }
    return std::string(tag);
}
}  // namespace

Status check_header(std::string_view header, ObjectKind expected, std::string_view key) {
    ByteReader r(header, key, "object header");
    const auto magic = r.read_bytes(k_magic.size(), "magic");
    if (!magic || *magic != k_magic) {
        return fail(ErrorCode::corrupt, "{}: not a Lifeboat object (bad magic)", key);
    }
    const std::string_view kind = LB_TRY(r.read_bytes(4, "kind"));
    if (kind != kind_tag(expected)) {
        return fail(ErrorCode::corrupt, "{}: object kind is '{}', expected '{}'", key,
                    printable_tag(kind), kind_tag(expected));
    }
    const std::uint32_t version = LB_TRY(r.read_u32_le("version"));
    if (version < 1 || version > current_version(expected)) {
        return fail(ErrorCode::corrupt,
                    "{}: format version {} is not supported by this Lifeboat (it reads versions "
                    "1 to {} of {})",
                    key, version, current_version(expected), kind_tag(expected));
    }
    const std::uint32_t flags = LB_TRY(r.read_u32_le("flags"));
    if ((flags & ~k_known_flags) != 0) {
        return fail(ErrorCode::corrupt, "{}: uses features this Lifeboat lacks (flags {:#x})", key,
                    flags);
    }
    LB_CHECK(r.skip(4, "reserved"));
    return {};
}

Result<std::string_view> verified_raw_payload(std::string_view bytes, ObjectKind expected,
                                              std::string_view key) {
    if (bytes.size() < k_header_size + k_trailer_size) {
        return fail(ErrorCode::corrupt, "{}: truncated object ({} bytes)", key, bytes.size());
    }
    LB_CHECK(check_header(bytes, expected, key));
    const std::string_view body = bytes.substr(0, bytes.size() - k_trailer_size);
    const Digest actual = sha256(body);
    if (std::memcmp(actual.data(), bytes.data() + body.size(), k_trailer_size) != 0) {
        return fail(ErrorCode::corrupt, "{}: checksum mismatch (the object is damaged)", key);
    }
    return body.substr(k_header_size);
}

Result<std::string> decode_object(std::string_view bytes, ObjectKind expected,
                                  std::string_view key) {
    const std::string_view payload = LB_TRY(verified_raw_payload(bytes, expected, key));
    if (get_le<std::uint32_t>(bytes, 16) & k_flag_zstd_payload) {
        auto plain = zstd_decompress(payload);
        if (!plain) return std::unexpected(plain.error().context("{}", key));
        return std::move(*plain);
    }
    return std::string(payload);
}

DamagedObject damaged_object(const std::string& key, const Error& error) {
    const std::string prefix = key + ": ";
    return {key, error.message.starts_with(prefix) ? error.message.substr(prefix.size())
                                                   : error.message};
}

}  // namespace lifeboat::repo
