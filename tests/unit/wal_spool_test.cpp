// The prefetch spool follows the replay: at most `window` segments wait, each one taken (moved
// away by wal-fetch, or asked for by restore_command) makes room for the next, and the following
// ends at a segment the archive lacks, past the target, when told to, or when nothing is taken for
// a while. In a data directory the segments wait in pg_wal, marked archived.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "drivers/postgres_physical/wal_spool.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;
using namespace lifeboat::repo::test_support;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t k_segment_size = 16 * 1024 * 1024;

Timestamp t(std::int64_t seconds) {
    return Timestamp{1'800'000'000'000'000 + seconds * 1'000'000};
}

class WalSpoolTest : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        spool = scratch() / "spool";
        ASSERT_TRUE(ensure_directory(spool));
    }
    static std::string segment(std::uint64_t segno) {
        return postgres::wal_file_name({1, segno}, k_segment_size);
    }
    // Segments 2 .. 2+count-1, segment s holding commits up to t(100 + s).
    void archive(std::uint64_t count) {
        for (std::uint64_t s = 2; s < 2 + count; ++s) {
            repo::WalMeta meta;
            meta.name = segment(s);
            meta.last_commit = t(100 + static_cast<std::int64_t>(s));
            meta.pushed = t(0);
            auto pushed = repo::push_wal(storage(), meta, "content of " + meta.name, 1);
            ASSERT_TRUE(pushed) << pushed.error().message;
        }
    }
    SpoolFollow follow(unsigned window) const {
        return SpoolFollow{.spool = spool,
                           .first = {1, 2},
                           .segment_size = k_segment_size,
                           .window = window,
                           .over = [] { return false; },
                           .idle_limit = 200ms};
    }
    bool spooled(std::uint64_t segno) const { return fs::exists(spool / segment(segno)); }
    std::size_t spooled_count() const {
        std::size_t n = 0;
        for (const auto& entry : fs::directory_iterator(spool))
            n += entry.path().filename().string().size() == 24 ? 1 : 0;
        return n;
    }
    // Waits (bounded) until segment `segno` is in the spool.
    bool await(std::uint64_t segno) const {
        for (int i = 0; i < 2000 && !spooled(segno); ++i)
            std::this_thread::sleep_for(1ms);
        return spooled(segno);
    }
    // What restore_command does with a spooled segment.
    void take(std::uint64_t segno) const { fs::remove(spool / segment(segno)); }

    fs::path spool;
};

TEST_F(WalSpoolTest, KeepsAtMostTheWindowAheadAndFollowsWhatIsTaken) {
    archive(10);
    auto following =
        std::async(std::launch::async, [&] { return follow_spool(storage(), follow(3)); });
    ASSERT_TRUE(await(4));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(spooled_count(), 3u);  // 2, 3, 4 wait; 5 waits for room
    EXPECT_FALSE(spooled(5));
    // The spooled content is the archived segment's.
    auto content = read_file(spool / segment(2));
    ASSERT_TRUE(content);
    EXPECT_EQ(*content, "content of " + segment(2));
    // Each segment taken lets the next one in, in order, up to the last one archived.
    for (std::uint64_t s = 2; s < 12; ++s) {
        ASSERT_TRUE(await(s)) << segment(s);
        EXPECT_LE(spooled_count(), 3u);
        take(s);
    }
    // Segment 12 is not archived: the following ends there, having spooled all ten.
    ASSERT_EQ(following.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(following.get(), 10u);
    EXPECT_FALSE(fs::exists(spool / k_plan_name));
}

TEST_F(WalSpoolTest, StopsAfterTheSegmentThatPassesTheTargetOrTheLastPosition) {
    archive(10);
    SpoolFollow until = follow(20);
    until.until = t(105);  // segment 6 holds commits up to t(106): replay stops in it
    // Segment 7 may have been in flight when 6 told where the target is; nothing after it.
    const unsigned fetched = follow_spool(storage(), until);
    EXPECT_TRUE(fetched == 5u || fetched == 6u) << fetched;
    EXPECT_TRUE(spooled(6));
    EXPECT_FALSE(spooled(8));

    for (std::uint64_t s = 2; s <= 7; ++s)
        if (spooled(s)) take(s);
    SpoolFollow last = follow(20);
    last.last = postgres::WalSegment{1, 4};
    EXPECT_EQ(follow_spool(storage(), last), 3u);
    EXPECT_TRUE(spooled(4));
    EXPECT_FALSE(spooled(5));
}

TEST_F(WalSpoolTest, EndsWhenNothingIsTakenOrWhenTold) {
    archive(10);
    // A full spool nobody takes from (the server stopped): the following gives up.
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(follow_spool(storage(), follow(2)), 2u);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_EQ(spooled_count(), 2u);

    // Segments spooled by an earlier prefetcher count as waiting, not fetched again.
    take(2);
    SpoolFollow next = follow(2);
    next.first = {1, 3};
    EXPECT_EQ(follow_spool(storage(), next), 1u);  // 3 was there; 4 is new
    EXPECT_TRUE(spooled(4));

    SpoolFollow told = follow(8);
    told.first = {1, 5};
    told.over = [] { return true; };
    EXPECT_EQ(follow_spool(storage(), told), 0u);
    EXPECT_FALSE(spooled(5));
}

// Run as root for a server account, the spool's files are that account's the moment they appear:
// restore_command (run by the server) may move a segment away at once, and a segment moved into
// pg_wal still root's would stop the replay. A watcher looks at each segment as it appears.
TEST_F(WalSpoolTest, SegmentsAppearAlreadyOwnedByTheServerAccount) {
    archive(10);
    const bool root_runs = ::geteuid() == 0;
    const UserAccount server{.name = "server",
                             .uid = root_runs ? 65534u : ::geteuid(),
                             .gid = root_runs ? 65534u : ::getegid()};
    SpoolFollow owned = follow(4);
    owned.owner = server;
    std::atomic<bool> done = false;
    std::atomic<int> seen = 0;
    std::atomic<int> wrong = 0;
    std::thread watcher([&] {
        while (!done) {
            for (std::uint64_t s = 2; s < 12; ++s) {
                struct stat st {};
                if (::stat((spool / segment(s)).c_str(), &st) != 0) continue;
                ++seen;
                if (st.st_uid != server.uid) ++wrong;
                take(s);  // as restore_command does, at once
            }
        }
    });
    EXPECT_EQ(follow_spool(storage(), owned), 10u);
    done = true;
    watcher.join();
    EXPECT_GE(seen.load(), 10);
    EXPECT_EQ(wrong.load(), 0) << "a segment appeared still owned by the writing account";
}

// In a data directory the segments wait in pg_wal under their own names, each marked archived
// once it is complete there (restore_command's shell takes only a marked one): a mark never stands
// beside anything but its segment, not even beside an old segment a restartpoint renamed to that
// name for reuse. No temporary ever shows in pg_wal or its archive_status, and the window follows
// the name restore_command notes as asked for: the segments stay where PostgreSQL reads them.
TEST_F(WalSpoolTest, InADataDirectorySegmentsWaitInPgWalMarkedAndFollowWhatIsAsked) {
    archive(10);
    const fs::path pg_wal = scratch() / "data" / "pg_wal";
    ASSERT_TRUE(ensure_directory(pg_wal / "archive_status"));
    ASSERT_TRUE(write_file_atomic(scratch() / "data" / "PG_VERSION", "15\n"));
    // A recycled segment: an old file renamed to a future name, not marked.
    ASSERT_TRUE(write_file_atomic(pg_wal / segment(5), "an old segment's bytes"));
    SpoolFollow in_data = follow(3);
    in_data.spool = pg_wal / k_spool_name;
    ASSERT_TRUE(ensure_directory(in_data.spool));
    ASSERT_EQ(segment_home(in_data.spool), pg_wal);
    const auto placed = [&](std::uint64_t s) {
        return fs::exists(pg_wal / segment(s)) && fs::exists(archived_mark(pg_wal, segment(s)));
    };
    const auto await_placed = [&](std::uint64_t s) {
        for (int i = 0; i < 2000 && !placed(s); ++i)
            std::this_thread::sleep_for(1ms);
        return placed(s);
    };
    std::atomic<bool> done = false;
    std::atomic<int> wrong_marks = 0;
    std::atomic<int> temporaries = 0;
    std::thread watcher([&] {
        while (!done) {
            std::error_code ec;
            for (const auto& entry : fs::directory_iterator(pg_wal, ec)) {
                if (entry.path().filename().string().find(".tmp.") != std::string::npos)
                    ++temporaries;
            }
            for (const auto& entry : fs::directory_iterator(pg_wal / "archive_status", ec)) {
                std::string name = entry.path().filename().string();
                if (name.find(".tmp.") != std::string::npos) ++temporaries;
                if (!name.ends_with(".done")) continue;
                name.resize(name.size() - 5);
                const auto content = read_file(pg_wal / name);
                if (!content || *content != "content of " + name) ++wrong_marks;
            }
        }
    });
    auto following =
        std::async(std::launch::async, [&] { return follow_spool(storage(), in_data); });
    ASSERT_TRUE(await_placed(4));
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(placed(5));  // 2, 3, 4 wait; nothing asked for yet (5 is the recycled file)
    for (std::uint64_t s = 2; s < 12; ++s) {
        ASSERT_TRUE(await_placed(s)) << segment(s);
        note_asked(in_data.spool, segment(s));
    }
    ASSERT_EQ(following.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(following.get(), 10u);
    done = true;
    watcher.join();
    EXPECT_EQ(wrong_marks.load(), 0) << "a mark stood beside something else than its segment";
    EXPECT_EQ(temporaries.load(), 0) << "a temporary file appeared in pg_wal or archive_status";
    for (std::uint64_t s = 2; s < 12; ++s) {
        EXPECT_TRUE(placed(s)) << segment(s);  // PostgreSQL reads them there
        auto content = read_file(pg_wal / segment(s));
        ASSERT_TRUE(content);
        EXPECT_EQ(*content, "content of " + segment(s));
    }

    // wal-fetch takes a segment from pg_wal only when it is marked archived.
    ASSERT_TRUE(write_file_atomic(pg_wal / segment(20), "a segment still being received"));
    EXPECT_FALSE(take_spooled(in_data.spool, segment(20), pg_wal / "RECOVERYXLOG"));
    EXPECT_TRUE(take_spooled(in_data.spool, segment(2), pg_wal / "RECOVERYXLOG"));
    EXPECT_FALSE(placed(2));
    EXPECT_TRUE(fs::exists(pg_wal / "RECOVERYXLOG"));
}

}  // namespace
