// The block index: which pack holds each block. Built from all `index/` objects (and, for packs
// an interrupted backup left unindexed, from pack footers). See docs/repository-format.md, "INDX".
#pragma once

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "repository/object.hpp"
#include "repository/pack.hpp"

namespace lifeboat::repo {

struct BlockLocation {
    const std::string* pack_id = nullptr;  // owned by the BlockIndex
    BlockPlacement placement;
};

// What load_block_index keeps of each block: its location, or only that it is stored (what a
// backup needs to tell new blocks from stored ones; find() knows none of those blocks).
enum class IndexContent { locations, ids };
enum class OnDamagedIndex;
class BlockIndex;
Result<BlockIndex> load_block_index(const Storage& storage, OnDamagedIndex on_damage,
                                    std::vector<PackSummary>* packs,
                                    const std::function<bool(const BlockId&)>& keep,
                                    IndexContent content);

// Not thread-safe for writes; concurrent readers are fine once loading is done.
class BlockIndex {
  public:
    // Only the blocks `keep` accepts are added when it is given (the pack itself is always
    // known to has_pack and packs()).
    void add_pack(const PackSummary& pack, const std::function<bool(const BlockId&)>& keep = {});
    std::optional<BlockLocation> find(const BlockId& id) const;
    bool contains(const BlockId& id) const {
        return m_blocks.count(id) != 0 ||
               std::binary_search(m_id_only.begin(), m_id_only.end(), id);
    }
    bool has_pack(const std::string& pack_id) const { return m_pack_ids.count(pack_id) != 0; }
    std::size_t block_count() const { return m_blocks.size() + m_id_only.size(); }
    const std::set<std::string>& packs() const { return m_pack_ids; }
    // Index ids (object names under index/) this index was loaded from.
    std::vector<std::string> loaded_from;
    // Damaged index objects skipped under OnDamagedIndex::skip: id and reason.
    struct Skipped {
        std::string id;
        std::string key;
        std::string reason;
    };
    std::vector<Skipped> skipped;
    // Under OnDamagedIndex::rebuild_from_packs: packs found through their own footers, and packs
    // whose footers could not be read either (their blocks stay unknown).
    std::size_t packs_read_from_footers = 0;
    std::vector<DamagedObject> unreadable_packs;

  private:
    friend Result<BlockIndex> load_block_index(const Storage&, OnDamagedIndex,
                                               std::vector<PackSummary>*,
                                               const std::function<bool(const BlockId&)>&,
                                               IndexContent);
    std::set<std::string> m_pack_ids;  // node-based: element addresses are stable
    // IndexContent::ids: the loaded blocks, sorted, without locations (32 bytes each instead of
    // about 100 in m_blocks); blocks added later go to m_blocks.
    std::vector<BlockId> m_id_only;
    std::unordered_map<BlockId, BlockLocation, BlockIdHash> m_blocks;
};

// Parses the payload of index object `key` (the JSON text, envelope already checked): every pack
// id is 64 hex digits, every block lies inside its pack (offset >= the header, offset + stored
// length <= size - trailer, computed without wrapping), lengths fit 32 bits and codecs 8.
// ErrorCode::corrupt naming the key and the field otherwise. An entry point for fuzzing.
Result<std::vector<PackSummary>> parse_index(std::string_view text, std::string_view key);
// The same through the general JSON reader alone (parse_index reads the layout write_index
// writes without it, index_text.hpp): what tests and the index fuzz target compare it with.
Result<std::vector<PackSummary>> parse_index_json(std::string_view text, std::string_view key);

enum class OnDamagedIndex { fail, skip, rebuild_from_packs };

// Loads and merges every index object. A damaged index object is an error naming it, or with
// OnDamagedIndex::skip is left out and noted in BlockIndex::skipped (a backup then simply stores
// those blocks again, so one damaged object cannot block every future backup). With
// OnDamagedIndex::rebuild_from_packs, when an object was skipped, the footers of the packs no
// readable index object names are read too (packs are self-describing), so readers such as
// restore and copy still find every block of an undamaged pack.
// With `packs`, also appends every pack the loaded index objects list (for expire, which needs
// each pack's whole entry list). With `keep`, only the blocks it accepts are indexed (a restore
// needs the locations of one backup's blocks, not of the whole repository's).
Result<BlockIndex> load_block_index(const Storage& storage,
                                    OnDamagedIndex on_damage = OnDamagedIndex::fail,
                                    std::vector<PackSummary>* packs = nullptr,
                                    const std::function<bool(const BlockId&)>& keep = {},
                                    IndexContent content = IndexContent::locations);

// Writes one index object listing `packs`; returns its id (SHA-256 of the object).
Result<std::string> write_index(Storage& storage, const std::vector<PackSummary>& packs);

struct AdoptedPacks {
    std::vector<PackSummary> packs;     // now in the index; the caller's next index must list them
    std::vector<std::string> warnings;  // unreadable packs, left alone
};

// Reads the footers of packs no index names (left by an interrupted writer) and adds their blocks
// to `index`, so the next writer reuses them instead of storing them again.
Result<AdoptedPacks> adopt_unindexed_packs(const Storage& storage, BlockIndex& index);

// Packs present under data/ that no index names (left by an interrupted backup).
Result<std::vector<std::string>> find_unindexed_packs(const Storage& storage,
                                                      const BlockIndex& index);

}  // namespace lifeboat::repo
