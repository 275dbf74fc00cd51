#include "util/parallel.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "util/exceptions.hpp"
#include "util/operation_context.hpp"

namespace lifeboat {

unsigned default_jobs() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

Status parallel_for(std::size_t count, unsigned threads,
                    const std::function<Status(std::size_t, unsigned)>& task,
                    const CancellationToken* cancellation) {
    if (threads == 0) threads = 1;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::optional<Error> first_error;

    auto run = [&](unsigned worker) {
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            const std::size_t i = next.fetch_add(1);
            if (i >= count) return;
            // An exception escaping a worker would end the process without unwinding the caller.
            Status status = cancellation ? cancellation->check() : Status{};
            if (status) status = call_catching_exceptions([&] { return task(i, worker); });
            if (!status) {
                std::lock_guard lock(error_mutex);
                if (!first_error) first_error = status.error();
                failed = true;
                return;
            }
        }
    };
    const unsigned n =
        static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(count, 1)));
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < n; ++w)
        pool.emplace_back(run, w);
    run(0);
    for (auto& t : pool)
        t.join();
    if (first_error) return std::unexpected(*first_error);
    return {};
}

}  // namespace lifeboat
