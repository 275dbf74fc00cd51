#include "repository/block_writer.hpp"

namespace lifeboat::repo {

struct BlockWriter::Worker {
    explicit Worker(int level) : compressor(level) {}
    Compressor compressor;
    std::string compressed;
    std::optional<PackWriter> pack;
};

BlockWriter::BlockWriter(Repository& repository, const BlockIndex& index, unsigned workers)
    : m_repository(repository), m_index(index) {
    for (unsigned i = 0; i < std::max(1u, workers); ++i) {
        m_workers.push_back(std::make_unique<Worker>(repository.config().compression_level));
    }
}

BlockWriter::~BlockWriter() = default;

bool BlockWriter::claim(const BlockId& id) {
    if (m_index.contains(id)) return false;
    std::lock_guard lock(m_known_mutex);
    return m_new_ids.insert(id).second;
}

Result<BlockId> BlockWriter::store(std::string_view plaintext, unsigned worker_index) {
    const BlockId id = m_repository.block_hasher()(plaintext);
    if (!claim(id)) return id;
    Worker& worker = *m_workers.at(worker_index);
    LB_CHECK(worker.compressor.compress(plaintext, worker.compressed));
    // Incompressible data is stored as is: smaller (the frame with its checksum would not be),
    // and nothing to decode on restore.
    const bool keep_raw = worker.compressed.size() + k_block_checksum_size >= plaintext.size();
    if (!keep_raw) append_block_checksum(worker.compressed, plaintext);
    const std::string_view stored = keep_raw ? plaintext : std::string_view(worker.compressed);
    if (!worker.pack) worker.pack.emplace(LB_TRY(PackWriter::start(m_repository.storage())));
    LB_CHECK(worker.pack->add(id, stored, static_cast<std::uint32_t>(plaintext.size()),
                              keep_raw ? BlockCodec::raw : BlockCodec::zstd));
    m_new_blocks += 1;
    m_stored_bytes += stored.size();
    if (worker.pack->size() >= m_repository.config().pack_target_size) {
        PackSummary summary = LB_TRY(worker.pack->finish());
        worker.pack.reset();
        std::lock_guard lock(m_packs_mutex);
        m_packs.push_back(std::move(summary));
    }
    return id;
}

Result<std::vector<PackSummary>> BlockWriter::finish() {
    for (auto& worker : m_workers) {
        if (!worker->pack) continue;
        PackSummary summary = LB_TRY(worker->pack->finish());
        worker->pack.reset();
        m_packs.push_back(std::move(summary));
    }
    return std::move(m_packs);
}

}  // namespace lifeboat::repo
