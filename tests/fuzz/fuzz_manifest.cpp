// Fuzz target: backup manifests (repository/manifest.hpp): parsing the JSON payload (wrapped in
// a valid envelope), whole and as a header (which must agree), the entry-safety checks restore
// relies on, and a write/read round trip of whatever parsed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "memory_storage.hpp"
#include "repository/manifest.hpp"
#include "repository/object.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    const std::string id = "20261126T080000Z";
    fuzz::MemoryStorage storage;
    auto object = encode_object(ObjectKind::manifest, payload, PayloadCompression::zstd);
    if (!object || !storage.write(manifest_key(id), *object, Overwrite::never)) return 0;
    (void)read_manifests(storage);
    auto header_set = read_manifests(storage, ManifestParts::header);
    auto manifest = read_manifest(storage, id);
    if (!manifest) return 0;
    // What reads whole reads as a header too, with the same header.
    if (!header_set || header_set->backups.size() != 1) __builtin_trap();
    const Manifest& header = header_set->backups.front();
    if (header.entries_read || !header.entries.empty() || header.id != manifest->id ||
        header.start_time != manifest->start_time || header.stop_time != manifest->stop_time ||
        header.start_lsn != manifest->start_lsn || header.stop_lsn != manifest->stop_lsn ||
        header.timeline != manifest->timeline || header.start_wal != manifest->start_wal ||
        header.stop_wal != manifest->stop_wal || header.source.kind != manifest->source.kind ||
        header.tags != manifest->tags || header.indexes != manifest->indexes ||
        header.stats.data_bytes != manifest->stats.data_bytes)
        __builtin_trap();
    (void)find_unsafe_entries(*manifest);
    (void)check_entries_safe(*manifest);
    for (const ManifestEntry& entry : manifest->entries)
        (void)tablespace_link_oid(entry.path);
    // What was read must be written back and read again without failing.
    fuzz::MemoryStorage again;
    manifest->id = id;
    if (!write_manifest(again, *manifest)) return 0;
    if (!read_manifest(again, id)) __builtin_trap();
    return 0;
}
