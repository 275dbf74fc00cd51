#include "engine/read_plan.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "util/parallel.hpp"
#include "util/thread_buffer.hpp"

namespace lifeboat::engine {

std::uint64_t ReadPlan::bytes() const {
    std::uint64_t total = 0;
    for (const auto& r : ranges)
        total += r.length;
    return total;
}

ReadPlan plan_reads(std::vector<WantedBlock> wanted, const ReadLimits& limits) {
    ReadPlan plan;
    // Pointers first: equal pointers are the same pack without comparing 64 hex digits.
    std::sort(wanted.begin(), wanted.end(), [](const WantedBlock& a, const WantedBlock& b) {
        if (a.pack_id != b.pack_id && *a.pack_id != *b.pack_id) return *a.pack_id < *b.pack_id;
        return a.placement.offset < b.placement.offset;
    });
    plan.blocks = std::move(wanted);
    for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
        const WantedBlock& b = plan.blocks[i];
        const std::uint64_t end = b.placement.offset + b.placement.stored_length;
        if (!plan.ranges.empty()) {
            RangeRead& open = plan.ranges.back();
            const std::uint64_t open_end = open.offset + open.length;
            const bool same_pack = open.pack_id == b.pack_id || *open.pack_id == *b.pack_id;
            if (same_pack && b.placement.offset <= open_end + limits.max_gap &&
                std::max(open_end, end) - open.offset <= limits.max_range) {
                open.length = std::max(open_end, end) - open.offset;
                ++open.count;
                continue;
            }
        }
        plan.ranges.push_back({.pack_id = b.pack_id,
                               .offset = b.placement.offset,
                               .length = b.placement.stored_length,
                               .first = i,
                               .count = 1});
    }
    return plan;
}

unsigned io_depth_for(const Storage& storage, unsigned requested) {
    if (requested != 0) return requested;
    return std::max(1u, storage.features().io_depth);
}

namespace {

// Bytes of fetched ranges held at once. A request larger than the whole budget waits for all of
// it, so it runs alone instead of never.
class ByteBudget {
  public:
    explicit ByteBudget(std::uint64_t total)
        : m_total(std::max<std::uint64_t>(total, 1)), m_free(m_total) {}

    std::uint64_t acquire(std::uint64_t wanted) {
        const std::uint64_t bytes = std::min(wanted, m_total);
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return m_free >= bytes; });
        m_free -= bytes;
        return bytes;
    }
    void release(std::uint64_t bytes) {
        {
            std::lock_guard lock(m_mutex);
            m_free += bytes;
        }
        m_changed.notify_all();
    }

  private:
    const std::uint64_t m_total;
    std::uint64_t m_free;
    std::mutex m_mutex;
    std::condition_variable m_changed;
};

// The decoding workers: a slot index for per-worker state, at most `count` taken at once.
class WorkerSlots {
  public:
    explicit WorkerSlots(unsigned count) {
        for (unsigned i = count; i > 0; --i)
            m_free.push_back(i - 1);
    }
    unsigned acquire() {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return !m_free.empty(); });
        const unsigned slot = m_free.back();
        m_free.pop_back();
        return slot;
    }
    void release(unsigned slot) {
        {
            std::lock_guard lock(m_mutex);
            m_free.push_back(slot);
        }
        m_changed.notify_one();
    }

  private:
    std::vector<unsigned> m_free;
    std::mutex m_mutex;
    std::condition_variable m_changed;
};

}  // namespace

Result<FetchStats> fetch_ranges(const Storage& storage, const ReadPlan& plan,
                                const FetchOptions& options, const RangeHandler& handle) {
    const unsigned workers = std::max(1u, options.workers);
    const unsigned depth = std::max(1u, options.io_depth);
    ByteBudget budget(options.memory_budget);
    WorkerSlots slots(workers);
    std::atomic<std::uint64_t> requests{0}, bytes{0};
    LB_CHECK(parallel_for(
        plan.ranges.size(), std::max(depth, workers),
        [&](std::size_t i, unsigned) -> Status {
            LB_CHECK(may_go_on(options.keep_going));
            const RangeRead& range = plan.ranges[i];
            const std::uint64_t held = budget.acquire(range.length);
            struct Release {
                ByteBudget& budget;
                std::uint64_t held;
                ~Release() { budget.release(held); }
            } release{budget, held};
            const std::string key = repo::pack_key(*range.pack_id);
            auto data = storage.read_range(key, range.offset, range.length);
            ++requests;
            if (!data && data.error().code == ErrorCode::not_found) {
                // The index names a pack that is gone: the repository is damaged, not the
                // request wrong.
                return fail(ErrorCode::corrupt, "pack {} is missing from the repository",
                            *range.pack_id);
            }
            if (!data) return std::unexpected(data.error().context("pack {}", *range.pack_id));
            bytes += data->size();
            // A store that answers with fewer (or more) bytes than asked must not shift blocks.
            if (data->size() != range.length) {
                return fail(ErrorCode::corrupt,
                            "pack {}: a read of {} bytes at offset {} returned {} bytes",
                            *range.pack_id, range.length, range.offset, data->size());
            }
            const unsigned slot = slots.acquire();
            auto status = handle(range, *data, slot);
            slots.release(slot);
            // This thread's next read writes into it (no new pages to fault in).
            return_thread_buffer(std::move(*data));
            if (!status) return std::unexpected(status.error().context("pack {}", *range.pack_id));
            return {};
        },
        options.cancellation));
    return FetchStats{.requests = requests.load(), .bytes = bytes.load()};
}

}  // namespace lifeboat::engine
