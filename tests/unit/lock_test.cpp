// Repository locks (src/repository/lock.hpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "repository/lock.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

std::string hostname() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

std::string pid_namespace() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/ns/pid", ec).string();
}

// A lock as another process (perhaps dead, perhaps elsewhere) would have left it.
void plant_lock(Storage& storage, const std::string& key, const std::string& kind, long pid,
                const std::string& host, const std::string& refreshed,
                const std::string& boot = boot_id()) {
    ASSERT_TRUE(storage.write(
        key,
        fmt::format(R"({{"kind":"{}","purpose":"test","host":"{}","pid":{},"boot_id":"{}",)"
                    R"("pid_namespace":"{}","started":"2026-01-01T00:00:00Z","refreshed":"{}",)"
                    R"("token":"planted"}})",
                    kind, host, pid, boot, pid_namespace(), refreshed),
        Overwrite::never));
}

std::string minutes_ago(int minutes) {
    return format_iso8601(Timestamp{system_clock().now().micros - minutes * 60LL * 1000000});
}

constexpr long k_dead_pid = 0x3fffffff;  // above pid_max: never a running process

// A clock the test moves by hand.
class ManualClock final : public Clock {
  public:
    Timestamp now() const override { return Timestamp{m_micros.load()}; }
    void advance(std::chrono::minutes by) {
        m_micros += std::chrono::duration_cast<std::chrono::microseconds>(by).count();
    }

  private:
    std::atomic<std::int64_t> m_micros{system_clock().now().micros};
};

// Storage whose writes of lock objects can be made to fail or to hang, and which reports each
// write attempt, so tests wait for events rather than for time.
class TroubledStorage final : public ForwardingStorage {
  public:
    enum class Writes { succeed, fail, hang };
    explicit TroubledStorage(Storage& inner) : ForwardingStorage(inner), m_inner(inner) {}

    void set_writes(Writes mode) {
        {
            std::lock_guard lock(m_mutex);
            m_mode = mode;
        }
        m_changed.notify_all();
    }
    // Waits (up to a minute) until `count` more write attempts have been made than `since`.
    std::uint64_t wait_for_writes(std::uint64_t since, std::uint64_t count) {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, std::chrono::minutes(1),
                           [&] { return m_attempts >= since + count; });
        return m_attempts;
    }
    std::uint64_t attempts() {
        std::lock_guard lock(m_mutex);
        return m_attempts;
    }

    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override {
        std::unique_lock lock(m_mutex);
        ++m_attempts;
        m_changed.notify_all();
        m_changed.wait(lock, [&] { return m_mode != Writes::hang; });
        if (m_mode == Writes::fail)
            return fail(ErrorCode::unavailable, "injected: storage unreachable");
        lock.unlock();
        return m_inner.write(key, data, overwrite);
    }

  private:
    Storage& m_inner;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    Writes m_mode = Writes::succeed;
    std::uint64_t m_attempts = 0;
};

// Another host judges a lock by its "refreshed" time alone.
void holder_is_live_elsewhere(LockHolder holder, Timestamp now) {
    holder.host = "another-host";
    EXPECT_FALSE(lock_is_stale(holder, now)) << holder.describe();
}

// Refreshes as fast as the test can observe them; gives up after the protocol's 30 minutes.
LockTiming fast_refresh(const Clock& clock) {
    return LockTiming{.refresh_every = std::chrono::milliseconds(5),
                      .retry_every = std::chrono::milliseconds(5),
                      .give_up_after = std::chrono::minutes(30),
                      .clock = &clock};
}

}  // namespace

class LockTest : public ScratchTest {};

TEST_F(LockTest, ExclusiveIsRefusedWhileHeldAndFreeAfterRelease) {
    auto first = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0));
    ASSERT_TRUE(first) << first.error().message;
    auto second = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0));
    EXPECT_TRUE(fails_with(second, ErrorCode::conflict, "locked by expire"));
    ASSERT_TRUE(first->release());
    EXPECT_TRUE(RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0)));
}

TEST_F(LockTest, SharedLocksCoexistAndAreRemovedOnDestruction) {
    {
        auto a = RepositoryLock::shared(storage(), "backup", std::chrono::seconds(0));
        auto b = RepositoryLock::shared(storage(), "restore", std::chrono::seconds(0));
        ASSERT_TRUE(a && b);
        EXPECT_EQ(read_locks(storage()).value().size(), 2u);
    }
    EXPECT_TRUE(read_locks(storage()).value().empty());
}

TEST_F(LockTest, SharedGivesUpAfterItsWaitWhileExclusiveIsHeld) {
    auto exclusive = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0));
    ASSERT_TRUE(exclusive);
    EXPECT_TRUE(fails_with(RepositoryLock::shared(storage(), "backup", std::chrono::seconds(0)),
                           ErrorCode::unavailable, "expire"));
    EXPECT_EQ(read_locks(storage()).value().size(), 1u);  // the failed attempt withdrew its lock
}

TEST_F(LockTest, ExclusiveWaitsForSharedHoldersThenTimesOut) {
    auto shared = RepositoryLock::shared(storage(), "backup", std::chrono::seconds(0));
    ASSERT_TRUE(shared);
    EXPECT_TRUE(fails_with(RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(1)),
                           ErrorCode::unavailable, "backup"));
    EXPECT_EQ(read_locks(storage()).value().size(), 1u);  // it released its exclusive lock
}

TEST_F(LockTest, ExclusiveGetsTheRepositoryOnceTheSharedHolderFinishes) {
    auto shared = RepositoryLock::shared(storage(), "backup", std::chrono::seconds(0));
    ASSERT_TRUE(shared);
    // The holder finishes once the exclusive taker has seen it and started waiting: no race
    // against a fixed delay, however loaded the machine.
    std::promise<void> waiting;
    std::thread finisher([&] {
        waiting.get_future().wait();
        (void)shared->release();
    });
    std::vector<std::string> waited_for;
    auto exclusive = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(60),
                                               [&](const std::string& h) {
                                                   waited_for.push_back(h);
                                                   if (waited_for.size() == 1) waiting.set_value();
                                               });
    finisher.join();
    ASSERT_TRUE(exclusive) << exclusive.error().message;
    ASSERT_FALSE(waited_for.empty());
    EXPECT_NE(waited_for.front().find("backup (pid"), std::string::npos) << waited_for.front();
}

TEST_F(LockTest, LocksOfDeadProcessesAndUnrefreshedForeignLocksAreStale) {
    // This host, this boot: judged by the pid, however fresh.
    plant_lock(storage(), "locks/exclusive", "exclusive", k_dead_pid, hostname(), minutes_ago(0));
    // Another host, not refreshed for two hours.
    plant_lock(storage(), "locks/shared-00000000000000aa", "shared", 1, "elsewhere",
               minutes_ago(120));
    auto lock = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0));
    ASSERT_TRUE(lock) << lock.error().message;
    EXPECT_EQ(read_locks(storage()).value().size(), 1u);
}

TEST_F(LockTest, RecentlyRefreshedLocksThatCannotBeJudgedByPidAreRespected) {
    plant_lock(storage(), "locks/exclusive", "exclusive", 1, "elsewhere", minutes_ago(10));
    EXPECT_TRUE(fails_with(RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0)),
                           ErrorCode::conflict, "on elsewhere"));
    ASSERT_TRUE(storage().remove_if_exists("locks/exclusive"));
    // Same host name but another boot (or a container with its own pids): the pid says nothing.
    plant_lock(storage(), "locks/exclusive", "exclusive", k_dead_pid, hostname(), minutes_ago(10),
               "another-boot");
    EXPECT_TRUE(fails_with(RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0)),
                           ErrorCode::conflict));
}

TEST_F(LockTest, ConfirmNoticesALockTakenAway) {
    auto lock = RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(0));
    ASSERT_TRUE(lock);
    EXPECT_TRUE(lock->confirm());
    ASSERT_TRUE(storage().remove_if_exists("locks/exclusive"));
    plant_lock(storage(), "locks/exclusive", "exclusive", 1, "elsewhere", minutes_ago(0));
    EXPECT_TRUE(fails_with(lock->confirm(), ErrorCode::conflict, "taken away"));
    ASSERT_TRUE(lock->release());  // leaves the other holder's lock alone
    EXPECT_EQ(read_locks(storage()).value().size(), 1u);
}

TEST_F(LockTest, TheDefaultHolderGivesUpWellBeforeItsLockCouldBeJudgedStale) {
    const LockTiming defaults;
    EXPECT_LE(defaults.give_up_after, std::chrono::minutes(30));
    EXPECT_LT(defaults.refresh_every * 4, defaults.give_up_after);
}

TEST_F(LockTest, AHolderWhoseRefreshesFailStopsBeforeItsLockCouldBeJudgedStale) {
    ManualClock clock;
    TroubledStorage troubled(storage());
    auto lock = RepositoryLock::shared(troubled, "backup", std::chrono::seconds(0), {},
                                       fast_refresh(clock));
    ASSERT_TRUE(lock) << lock.error().message;
    troubled.wait_for_writes(troubled.attempts(), 2);  // refreshes are happening
    EXPECT_TRUE(lock->check());

    troubled.set_writes(TroubledStorage::Writes::fail);
    troubled.wait_for_writes(troubled.attempts(), 2);
    clock.advance(std::chrono::minutes(20));
    EXPECT_TRUE(lock->check()) << "twenty minutes without a refresh is still safe";
    clock.advance(std::chrono::minutes(11));
    EXPECT_TRUE(fails_with(lock->check(), ErrorCode::unavailable, "could not be refreshed"));
    EXPECT_TRUE(fails_with(lock->check(), ErrorCode::unavailable, "storage unreachable"));
    // At that moment another host would still see a live lock (stale only after an hour).
    const auto held = read_locks(storage()).value();
    ASSERT_EQ(held.size(), 1u);
    holder_is_live_elsewhere(held.front(), clock.now());

    // Refreshes that succeed again let the holder go on.
    troubled.set_writes(TroubledStorage::Writes::succeed);
    troubled.wait_for_writes(troubled.attempts(), 2);
    EXPECT_TRUE(lock->check());
}

TEST_F(LockTest, CheckDoesNotWaitForARefreshStuckInStorage) {
    ManualClock clock;
    TroubledStorage troubled(storage());
    auto lock = RepositoryLock::shared(troubled, "restore", std::chrono::seconds(0), {},
                                       fast_refresh(clock));
    ASSERT_TRUE(lock) << lock.error().message;
    troubled.set_writes(TroubledStorage::Writes::hang);
    troubled.wait_for_writes(troubled.attempts(), 1);  // the refresher is inside a write now
    EXPECT_TRUE(lock->check());                        // returns although the write hangs
    clock.advance(std::chrono::minutes(31));
    EXPECT_TRUE(fails_with(lock->check(), ErrorCode::unavailable, "could not be refreshed"));
    troubled.set_writes(TroubledStorage::Writes::succeed);
}

TEST_F(LockTest, ARefreshThatFindsTheLockTakenAwayStopsTheHolder) {
    ManualClock clock;
    TroubledStorage troubled(storage());
    auto lock =
        RepositoryLock::shared(troubled, "copy", std::chrono::seconds(0), {}, fast_refresh(clock));
    ASSERT_TRUE(lock) << lock.error().message;
    // Hold the refresher inside a write, replace the lock behind its back, then let that write
    // fail: its next refresh reads the other holder's lock.
    troubled.set_writes(TroubledStorage::Writes::hang);
    troubled.wait_for_writes(troubled.attempts(), 1);
    ASSERT_TRUE(storage().remove_if_exists(lock->key()));
    plant_lock(storage(), lock->key(), "shared", 1, "elsewhere", minutes_ago(0));
    troubled.set_writes(TroubledStorage::Writes::fail);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (lock->check() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(fails_with(lock->check(), ErrorCode::conflict, "taken away"));
    // The refresher never re-created or overwrote the other holder's lock.
    EXPECT_EQ(read_locks(storage()).value().front().host, "elsewhere");
}
