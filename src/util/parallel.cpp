#include "util/parallel.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

namespace lifeboat {

unsigned default_jobs() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

namespace {

// An exception escaping a worker thread would end the process (std::terminate) without
// unwinding the caller: no lock released, no one-line error. Turn it into the task's error.
Status run_guarded(const std::function<Status(std::size_t, unsigned)>& task, std::size_t i,
                   unsigned worker) {
    try {
        return task(i, worker);
    } catch (const std::filesystem::filesystem_error& e) {
        return fail(ErrorCode::io, "{}", e.what());
    } catch (const std::bad_alloc&) {
        return fail(ErrorCode::io, "out of memory");
    } catch (const std::exception& e) {
        return fail(ErrorCode::internal, "internal error: {} (a bug: please report it)", e.what());
    }
}

}  // namespace

Status parallel_for(std::size_t count, unsigned threads,
                    const std::function<Status(std::size_t, unsigned)>& task) {
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
            Status status = run_guarded(task, i, worker);
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
