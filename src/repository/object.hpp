// The envelope every repository object carries (docs/repository-format.md, "Object envelope"):
// magic, kind, version, flags, payload, SHA-256 trailer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codec/hash.hpp"
#include "util/error.hpp"

namespace lifeboat::repo {

enum class ObjectKind { config, pack, index, manifest, wal, pin, drill, cluster, wal_summary };

// An object that failed its checks (envelope, checksum, or content): named by readers that carry
// on with the rest of the repository, moved aside by `repair`.
struct DamagedObject {
    std::string key;
    std::string reason;
};
// The DamagedObject for `key` from the error reading it gave (without a leading "key: ").
DamagedObject damaged_object(const std::string& key, const Error& error);
// Whether a failed read says something about the object (corrupt, or missing) rather than about
// the storage (unavailable, an I/O failure): only the former may be reported, or worked around, as
// damage; the latter must fail the operation, or a transient outage would be called corruption.
inline bool is_damage(const Error& error) {
    return error.code == ErrorCode::corrupt || error.code == ErrorCode::not_found;
}

// The repository format (CONF's "format"); each kind's envelope carries its own version.
inline constexpr std::uint32_t k_format_version = 1;
// The version this Lifeboat writes for `kind` (MNFT: 2, every other kind: 1). Readers accept
// every version from 1 up to it (docs/repository-format.md, "Compatibility").
std::uint32_t current_version(ObjectKind kind);
inline constexpr std::size_t k_header_size = 24;
inline constexpr std::size_t k_trailer_size = 32;
inline constexpr std::uint32_t k_flag_zstd_payload = 1u;

std::string_view kind_tag(ObjectKind kind);  // "CONF", "PACK", ...

// The 24-byte header for `kind` with `flags`.
std::string encode_header(ObjectKind kind, std::uint32_t flags);

enum class PayloadCompression { none, zstd };

// A complete object around `payload` (compressed first when asked).
Result<std::string> encode_object(ObjectKind kind, std::string_view payload,
                                  PayloadCompression compression);

// Checks envelope and trailer of a complete object and returns its payload, decompressed when
// the flags say so. `key` names the object in error messages.
Result<std::string> decode_object(std::string_view bytes, ObjectKind expected,
                                  std::string_view key);

// Checks envelope and trailer and returns a view of the payload as stored (still compressed if
// the flags say so), without copying it: for large objects such as WAL segments.
Result<std::string_view> verified_raw_payload(std::string_view bytes, ObjectKind expected,
                                              std::string_view key);

// The envelope version of an object whose header check_header (or decode_object) accepted.
std::uint32_t object_version(std::string_view bytes);

// Checks only the header (used when reading ranges of a pack without the whole object).
Status check_header(std::string_view header, ObjectKind expected, std::string_view key);

}  // namespace lifeboat::repo
