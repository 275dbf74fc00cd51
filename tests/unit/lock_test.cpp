// Repository locks (src/repository/lock.hpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "repository/lock.hpp"
#include "repository_test_support.hpp"

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
    std::thread finisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        (void)shared->release();
    });
    std::vector<std::string> waited_for;
    auto exclusive =
        RepositoryLock::exclusive(storage(), "expire", std::chrono::seconds(10),
                                  [&](const std::string& h) { waited_for.push_back(h); });
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
