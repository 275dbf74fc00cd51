// Fuzz target: a pack's footer and entries (repository/pack.hpp, read_pack_summary) and reading
// each listed block back (repository/block.hpp, read_block). The input is the pack's payload; the
// target wraps it in a valid envelope so that mutations reach the footer parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "memory_storage.hpp"
#include "repository/block.hpp"
#include "repository/object.hpp"
#include "repository/pack.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    const std::string pack_id(64, 'a');
    fuzz::MemoryStorage storage;
    auto object = encode_object(ObjectKind::pack, payload, PayloadCompression::none);
    if (!object || !storage.write(pack_key(pack_id), *object, Overwrite::never)) return 0;
    const auto summary = read_pack_summary(storage, pack_id);
    if (!summary) return 0;
    BlockReader reader;
    std::string block;
    for (const PackEntry& entry : summary->entries) {
        // Every entry the parser accepted must lie inside the object it came from.
        if (entry.placement.offset + entry.placement.stored_length > object->size())
            __builtin_trap();
        (void)read_block(storage, pack_id, entry.id, entry.placement, reader, block);
    }
    return 0;
}
