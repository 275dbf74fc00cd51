// BlockIdSet: a set of block ids built once (add, then seal), then queried (contains), in
// bounded memory however many ids it holds. While the ids added fit `memory_budget` bytes they
// stay in memory, sorted once at seal. Beyond it, each full buffer is sorted and written to a run
// file under a temporary directory made in `spill_parent`; seal merges the runs (dropping
// duplicates) into one sorted file and keeps in memory only the first id of each page of it,
// chosen so that this sparse index takes at most half the budget; a lookup then reads one page.
// The temporary directory is removed with the set.
//
// Used by `expire` for the blocks the retained backups reference (docs/performance.md: memory
// stays flat as the repository grows). Errors: ErrorCode::io naming the file when a spill file
// cannot be written or read; add after seal and contains before it are programming errors
// (ErrorCode::internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "io/file.hpp"
#include "repository/block.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat::repo {

class BlockIdSet {
  public:
    BlockIdSet(std::size_t memory_budget, fs::path spill_parent);
    BlockIdSet(BlockIdSet&&) noexcept = default;
    BlockIdSet& operator=(BlockIdSet&&) = delete;

    Status add(const BlockId& id);
    Status seal();
    Result<bool> contains(const BlockId& id) const;

    // Distinct ids (after seal).
    std::uint64_t size() const { return m_size; }
    // Whether the ids went to disk (after seal).
    bool spilled() const { return m_merged.has_value(); }

  private:
    Status spill_buffer();
    Status merge_runs();

    std::size_t m_buffer_ids;  // ids held in memory before a spill
    fs::path m_spill_parent;
    std::vector<BlockId> m_buffer;
    std::optional<TempDirectory> m_dir;
    std::vector<fs::path> m_runs;
    std::optional<File> m_merged;
    std::vector<BlockId> m_page_first;  // the first id of each page of the merged file
    std::size_t m_page_ids = 0;
    std::uint64_t m_size = 0;
    bool m_sealed = false;
};

}  // namespace lifeboat::repo
