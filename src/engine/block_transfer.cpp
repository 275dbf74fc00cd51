#include "engine/block_transfer.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

constexpr std::uint64_t k_read_span = 8ull * 1024 * 1024;

// One destination pack per worker, rotated at the destination's target size.
class PackSink {
  public:
    PackSink(repo::Repository& to, unsigned workers) : m_to(to), m_packs(workers) {}

    Status add(unsigned worker, const repo::BlockId& id, std::string_view stored,
               const repo::BlockPlacement& placement) {
        auto& pack = m_packs[worker];
        if (!pack) pack.emplace(LB_TRY(repo::PackWriter::start(m_to.storage())));
        LB_CHECK(pack->add(id, stored, placement.raw_length, placement.codec));
        if (pack->size() >= m_to.config().pack_target_size) LB_CHECK(close(worker));
        return {};
    }

    Result<std::vector<repo::PackSummary>> finish() {
        for (unsigned w = 0; w < m_packs.size(); ++w)
            LB_CHECK(close(w));
        return std::move(m_done);
    }

  private:
    Status close(unsigned worker) {
        auto& pack = m_packs[worker];
        if (!pack) return {};
        repo::PackSummary summary = LB_TRY(pack->finish());
        pack.reset();
        std::lock_guard lock(m_mutex);
        m_done.push_back(std::move(summary));
        return {};
    }

    repo::Repository& m_to;
    std::vector<std::optional<repo::PackWriter>> m_packs;
    std::mutex m_mutex;
    std::vector<repo::PackSummary> m_done;
};

}  // namespace

Result<TransferOutcome> transfer_blocks(
    const repo::Repository& from, repo::Repository& to,
    const std::map<std::string, std::vector<BlockToMove>>& by_pack, unsigned jobs,
    const ProgressFn& progress, const std::string& phase, BlockRekey* rekey,
    const KeepGoingFn& keep_going) {
    std::mutex rekey_mutex;
    std::unordered_set<repo::BlockId, repo::BlockIdHash> rekey_written;
    std::vector<const std::string*> pack_ids;
    std::uint64_t total = 0;
    for (const auto& [id, blocks] : by_pack) {
        pack_ids.push_back(&id);
        total += blocks.size();
    }
    if (jobs == 0) jobs = default_jobs();
    PackSink sink(to, jobs);
    std::vector<repo::BlockReader> readers(jobs);
    std::atomic<std::uint64_t> bytes{0}, blocks{0};
    {
        PeriodicProgress report(progress, phase, blocks, total);
        LB_CHECK(parallel_for(pack_ids.size(), jobs, [&](std::size_t i, unsigned worker) -> Status {
            LB_CHECK(may_go_on(keep_going));
            const std::string& pack_id = *pack_ids[i];
            const std::string key = repo::pack_key(pack_id);
            auto wanted = by_pack.at(pack_id);
            std::sort(wanted.begin(), wanted.end(), [](const BlockToMove& a, const BlockToMove& b) {
                return a.placement.offset < b.placement.offset;
            });
            std::string block;
            for (std::size_t first = 0; first < wanted.size();) {
                const std::uint64_t begin = wanted[first].placement.offset;
                std::size_t last = first;
                while (last + 1 < wanted.size() &&
                       wanted[last + 1].placement.offset +
                               wanted[last + 1].placement.stored_length - begin <=
                           k_read_span) {
                    ++last;
                }
                const std::uint64_t end =
                    wanted[last].placement.offset + wanted[last].placement.stored_length;
                auto span = from.storage().read_range(key, begin, end - begin);
                if (!span) return std::unexpected(span.error().context("pack {}", pack_id));
                for (std::size_t k = first; k <= last; ++k) {
                    const auto& b = wanted[k];
                    const std::string_view stored = std::string_view(*span).substr(
                        b.placement.offset - begin, b.placement.stored_length);
                    auto status = repo::decode_block(stored, b.id, b.placement, readers[worker],
                                                     block, from.block_hasher());
                    if (!status) return std::unexpected(status.error().context("pack {}", pack_id));
                    repo::BlockId id = b.id;
                    if (rekey) {
                        id = rekey->hasher(block);
                        std::lock_guard lock(rekey_mutex);
                        rekey->ids.emplace(b.id, id);
                        if (rekey->present.contains(id) || !rekey_written.insert(id).second) {
                            ++rekey->already_present;
                            continue;
                        }
                    }
                    LB_CHECK(sink.add(worker, id, stored, b.placement));
                    bytes += stored.size();
                    ++blocks;
                }
                first = last + 1;
            }
            return {};
        }));
    }
    TransferOutcome outcome;
    outcome.packs = LB_TRY(sink.finish());
    outcome.blocks = blocks.load();
    outcome.bytes = bytes.load();
    return outcome;
}

}  // namespace lifeboat::engine
