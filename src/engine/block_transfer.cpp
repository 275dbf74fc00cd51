#include "engine/block_transfer.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "engine/read_plan.hpp"
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
    unsigned io_depth, const ProgressFn& progress, const std::string& phase, BlockRekey* rekey,
    const KeepGoingFn& keep_going) {
    std::mutex rekey_mutex;
    std::unordered_set<repo::BlockId, repo::BlockIdHash> rekey_written;
    std::vector<WantedBlock> wanted;
    for (const auto& [id, blocks] : by_pack)
        for (const auto& b : blocks)
            wanted.push_back({.pack_id = &id, .id = b.id, .placement = b.placement});
    const std::uint64_t total = wanted.size();
    // Copy has always read up to 8 MiB at once; a gap as wide is still one request cheaper.
    const ReadPlan plan =
        plan_reads(std::move(wanted), {.max_range = k_read_span, .max_gap = k_read_span});
    if (jobs == 0) jobs = default_jobs();
    PackSink sink(to, jobs);
    std::vector<repo::BlockReader> readers(jobs);
    std::vector<std::string> buffers(jobs);
    std::atomic<std::uint64_t> bytes{0}, blocks{0};
    auto handle = [&](const RangeRead& range, std::string_view span, unsigned worker) -> Status {
        for (std::size_t k = range.first; k < range.first + range.count; ++k) {
            const WantedBlock& b = plan.blocks[k];
            const std::string_view stored =
                span.substr(b.placement.offset - range.offset, b.placement.stored_length);
            LB_CHECK(repo::decode_block(stored, b.id, b.placement, readers[worker], buffers[worker],
                                        from.block_hasher()));
            repo::BlockId id = b.id;
            if (rekey) {
                id = rekey->hasher(buffers[worker]);
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
        return {};
    };
    TransferOutcome outcome;
    outcome.io_depth = io_depth_for(from.storage(), io_depth);
    const FetchOptions fetch{
        .io_depth = outcome.io_depth, .workers = jobs, .keep_going = keep_going};
    auto fetched = [&] {
        PeriodicProgress report(progress, phase, blocks, total);
        return fetch_ranges(from.storage(), plan, fetch, handle);
    }();
    if (!fetched) return std::unexpected(fetched.error());
    outcome.packs = LB_TRY(sink.finish());
    outcome.blocks = blocks.load();
    outcome.bytes = bytes.load();
    outcome.requests = fetched->requests;
    outcome.bytes_fetched = fetched->bytes;
    return outcome;
}

}  // namespace lifeboat::engine
