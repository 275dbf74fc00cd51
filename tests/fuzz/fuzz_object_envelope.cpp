// Fuzz target: the object envelope (repository/object.hpp). The first byte picks the kind the
// reader expects and whether the target repairs the SHA-256 trailer first, so that mutations
// also reach the header checks and zstd decoding behind a valid checksum. A WAL object is also
// fetched whole and streamed (repository/wal_archive.hpp): both must refuse it or agree.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/hash.hpp"
#include "memory_storage.hpp"
#include "repository/object.hpp"
#include "repository/wal_archive.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto kind = static_cast<ObjectKind>(data[0] % 8);
    const bool repair_trailer = (data[0] & 0x80) != 0;
    std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    if (repair_trailer && bytes.size() >= k_trailer_size) {
        const std::string body = bytes.substr(0, bytes.size() - k_trailer_size);
        bytes = body + digest_bytes(sha256(body));
    }
    (void)check_header(bytes, kind, "fuzz");
    (void)verified_raw_payload(bytes, kind, "fuzz");
    if (auto payload = decode_object(bytes, kind, "fuzz")) {
        // What decodes must encode back to an object that decodes to the same payload.
        auto again = encode_object(kind, *payload, PayloadCompression::none);
        if (!again || decode_object(*again, kind, "fuzz") != *payload) __builtin_trap();
    }
    if (kind == ObjectKind::wal) {
        const std::string name = "000000010000000000000001";
        fuzz::MemoryStorage storage;
        if (!storage.write(wal_key(name), bytes, Overwrite::allow)) return 0;
        const auto whole = fetch_wal(storage, name);
        std::string streamed;
        const auto meta = fetch_wal_to(storage, name, [&](std::string_view piece) -> Status {
            if (piece.size() > (std::size_t{1} << 20)) __builtin_trap();
            streamed += piece;
            return {};
        });
        if (whole.has_value() != meta.has_value()) __builtin_trap();
        if (whole && *whole != streamed) __builtin_trap();
    }
    return 0;
}
