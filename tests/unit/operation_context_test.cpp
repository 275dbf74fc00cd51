// The operation context (util/operation_context.hpp): cancellation reaches waits, parallel workers
// and repository lock waits promptly, and stages go through the context's hook.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "repository/lock.hpp"
#include "repository_test_support.hpp"
#include "util/operation_context.hpp"
#include "util/parallel.hpp"

using namespace lifeboat;
using namespace lifeboat::repo::test_support;
using namespace std::chrono_literals;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST(CancellationToken, ChecksPassUntilCancelledThenNameTheFirstReason) {
    CancellationToken token;
    EXPECT_FALSE(token.cancelled());
    EXPECT_TRUE(token.check());
    token.cancel("SIGINT received");
    token.cancel("SIGTERM received");  // the first reason wins
    EXPECT_TRUE(token.cancelled());
    auto status = token.check();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::interrupted);
    EXPECT_EQ(status.error().message, "interrupted: SIGINT received");
}

TEST(CancellationToken, ASleepEndsAsSoonAsAnotherThreadCancels) {
    CancellationToken token;
    const auto start = std::chrono::steady_clock::now();
    std::thread canceller([&] {
        std::this_thread::sleep_for(50ms);
        token.cancel("test");
    });
    auto slept = token.sleep_for(30s);
    canceller.join();
    ASSERT_FALSE(slept);
    EXPECT_EQ(slept.error().code, ErrorCode::interrupted);
    EXPECT_LT(seconds_since(start), 5.0);
    // Once cancelled, a sleep does not wait at all.
    const auto again = std::chrono::steady_clock::now();
    EXPECT_FALSE(token.sleep_for(30s));
    EXPECT_LT(seconds_since(again), 1.0);
}

TEST(CancellationToken, AnUncancelledSleepLastsItsDuration) {
    CancellationToken token;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(token.sleep_for(20ms));
    EXPECT_GE(seconds_since(start), 0.019);
}

TEST(OperationContext, StagesCallTheHookThenCheckCancellation) {
    OperationContext ctx;
    std::vector<std::string> reached;
    ctx.stage_hook = [&](std::string_view stage) -> Status {
        reached.emplace_back(stage);
        if (stage == "broken") return fail(ErrorCode::io, "injected");
        return {};
    };
    EXPECT_TRUE(ctx.stage("plan"));
    auto broken = ctx.stage("broken");
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().code, ErrorCode::io);
    ctx.cancellation->cancel("test");
    auto cancelled = ctx.stage("wal");
    ASSERT_FALSE(cancelled);
    EXPECT_EQ(cancelled.error().code, ErrorCode::interrupted);
    EXPECT_EQ(reached, (std::vector<std::string>{"plan", "broken", "wal"}));
}

TEST(OperationContext, ACancelledContextStopsParallelForHandingOutWork) {
    OperationContext ctx;
    std::atomic<std::size_t> ran{0};
    auto status = parallel_for(
        100000, 4,
        [&](std::size_t i, unsigned) -> Status {
            if (i == 10) ctx.cancellation->cancel("test");
            ++ran;
            std::this_thread::sleep_for(100us);
            return {};
        },
        ctx.cancellation.get());
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::interrupted);
    // Tasks already running finish; no new ones start (a handful at most per worker).
    EXPECT_LT(ran.load(), 100u);
}

TEST(OperationContext, ParallelForWithoutCancellationRunsEverything) {
    CancellationToken token;
    std::atomic<std::size_t> ran{0};
    ASSERT_TRUE(parallel_for(
        1000, 4,
        [&](std::size_t, unsigned) -> Status {
            ++ran;
            return {};
        },
        &token));
    EXPECT_EQ(ran.load(), 1000u);
}

class CancelledLockWaitTest : public ScratchTest {};

TEST_F(CancelledLockWaitTest, AnExclusiveLockWaitEndsPromptlyAndReleasesItsLock) {
    // A shared holder (a running backup) makes the exclusive lock (expire) wait.
    auto shared = repo::RepositoryLock::shared(storage(), "backup", 0s);
    ASSERT_TRUE(shared) << shared.error().message;
    CancellationToken token;
    repo::LockTiming timing;
    timing.cancellation = &token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(300ms);
        token.cancel("SIGINT received");
    });
    const auto start = std::chrono::steady_clock::now();
    auto exclusive = repo::RepositoryLock::exclusive(storage(), "expire", 3600s, {}, timing);
    canceller.join();
    ASSERT_FALSE(exclusive);
    EXPECT_EQ(exclusive.error().code, ErrorCode::interrupted);
    EXPECT_LT(seconds_since(start), 5.0);
    // The waiting exclusive lock is gone: another one is taken at once once the holder leaves.
    ASSERT_TRUE(shared->release());
    auto again = repo::RepositoryLock::exclusive(storage(), "expire", 0s);
    EXPECT_TRUE(again) << again.error().message;
}

TEST_F(CancelledLockWaitTest, ASharedLockWaitEndsPromptly) {
    auto exclusive = repo::RepositoryLock::exclusive(storage(), "expire", 0s);
    ASSERT_TRUE(exclusive) << exclusive.error().message;
    CancellationToken token;
    repo::LockTiming timing;
    timing.cancellation = &token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(300ms);
        token.cancel("SIGTERM received");
    });
    const auto start = std::chrono::steady_clock::now();
    auto shared = repo::RepositoryLock::shared(storage(), "backup", 3600s, {}, timing);
    canceller.join();
    ASSERT_FALSE(shared);
    EXPECT_EQ(shared.error().code, ErrorCode::interrupted);
    EXPECT_LT(seconds_since(start), 5.0);
}
