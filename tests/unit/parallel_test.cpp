// parallel_for (util/parallel.hpp): every task runs once, per-worker state is private to its
// worker, and the first failure stops the hand-out. Run under ThreadSanitizer by
// scripts/sanitize.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "util/parallel.hpp"

using namespace lifeboat;

TEST(ParallelFor, RunsEveryTaskOnceWithPrivateWorkerState) {
    constexpr std::size_t k_tasks = 2000;
    constexpr unsigned k_threads = 4;
    std::vector<std::atomic<int>> runs(k_tasks);
    std::vector<std::size_t> per_worker(k_threads, 0);  // written only by its own worker
    auto status = parallel_for(k_tasks, k_threads, [&](std::size_t index, unsigned worker) {
        runs[index].fetch_add(1);
        per_worker.at(worker) += index;
        return Status{};
    });
    ASSERT_TRUE(status);
    for (const auto& count : runs)
        EXPECT_EQ(count.load(), 1);
    std::size_t sum = 0;
    for (const std::size_t part : per_worker)
        sum += part;
    EXPECT_EQ(sum, k_tasks * (k_tasks - 1) / 2);
}

TEST(ParallelFor, TheFirstFailureStopsFurtherTasks) {
    std::atomic<std::size_t> started{0};
    auto status = parallel_for(100000, 3, [&](std::size_t index, unsigned) -> Status {
        started.fetch_add(1);
        if (index == 10) return fail(ErrorCode::io, "task {} failed", index);
        // The other tasks take a while (all of them: 3 s at least), so that the failing worker
        // descheduled between its task and the failure's record (a busy machine) cannot let the
        // others run out of tasks first.
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        return {};
    });
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::io);
    EXPECT_LT(started.load(), 100000u);
}
