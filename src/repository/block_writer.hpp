// BlockWriter: stores blocks into new packs from several threads, skipping every block the
// repository (or this writer) already holds. Each worker thread has its own pack and compressor;
// only the "is this block known?" set is shared. Memory: one open pack per worker (streamed to
// storage, not buffered) plus the set of known block ids.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "repository/index.hpp"
#include "repository/repository.hpp"

namespace lifeboat::repo {

class BlockWriter {
  public:
    // `index` must outlive the writer; blocks it contains are never stored again.
    BlockWriter(Repository& repository, const BlockIndex& index, unsigned workers);
    ~BlockWriter();

    // Stores `plaintext` unless known; returns its id. Call from worker thread `worker` only.
    Result<BlockId> store(std::string_view plaintext, unsigned worker);

    // Publishes every open pack; returns all packs this writer published.
    Result<std::vector<PackSummary>> finish();

    std::uint64_t new_blocks() const { return m_new_blocks; }
    std::uint64_t stored_bytes() const { return m_stored_bytes; }

  private:
    struct Worker;
    bool claim(const BlockId& id);  // true when this call made the block known

    Repository& m_repository;
    const BlockIndex& m_index;
    std::vector<std::unique_ptr<Worker>> m_workers;
    std::mutex m_known_mutex;
    std::unordered_set<BlockId, BlockIdHash> m_new_ids;
    std::mutex m_packs_mutex;
    std::vector<PackSummary> m_packs;
    std::atomic<std::uint64_t> m_new_blocks{0};
    std::atomic<std::uint64_t> m_stored_bytes{0};
};

}  // namespace lifeboat::repo
