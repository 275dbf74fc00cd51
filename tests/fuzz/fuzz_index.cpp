// Fuzz target: index objects (repository/index.hpp, load_block_index). The input is the index's
// JSON payload, stored in a valid envelope beside a second, well-formed index, and loaded under
// each damage policy. The reader of write_index's own layout (index_text.hpp) must agree with
// the general JSON reader on every input it accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "memory_storage.hpp"
#include "repository/index.hpp"
#include "repository/index_text.hpp"
#include "repository/object.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    if (const auto fast = parse_index_as_written(payload)) {
        const auto general = parse_index_json(payload, "index/fuzz");
        if (!general || *general != *fast) __builtin_trap();
    }
    fuzz::MemoryStorage storage;
    auto object = encode_object(ObjectKind::index, payload, PayloadCompression::zstd);
    if (!object) return 0;
    (void)storage.write("index/" + std::string(64, '1'), *object, Overwrite::never);
    for (const auto policy :
         {OnDamagedIndex::fail, OnDamagedIndex::skip, OnDamagedIndex::rebuild_from_packs}) {
        std::vector<PackSummary> packs;
        auto index = load_block_index(storage, policy, &packs);
        if (!index) continue;
        for (const PackSummary& pack : packs) {
            for (const PackEntry& entry : pack.entries) {
                const auto found = index->find(entry.id);
                if (!found || found->pack_id == nullptr) __builtin_trap();
            }
        }
        (void)find_unindexed_packs(storage, *index);
    }
    return 0;
}
