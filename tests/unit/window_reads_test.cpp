// How the restorable window reads the WAL archive: the last-commit metadata of every segment is
// read several at a time (an object store pays a round trip per read, and a repository keeps
// thousands of segments), and a segment whose metadata is damaged still fails the window.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/window.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::engine;
using namespace lifeboat::repo::test_support;

namespace {

Timestamp t(std::int64_t seconds) {
    return Timestamp{1'800'000'000'000'000 + seconds * 1'000'000};
}

// Every ranged read waits a little, as on an object store, and the most reads seen in flight at
// once are counted.
class SlowReads final : public ForwardingStorage {
  public:
    using ForwardingStorage::ForwardingStorage;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override {
        const int now = ++m_in_flight;
        int seen = m_most.load();
        while (now > seen && !m_most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto data = ForwardingStorage::read_range(key, offset, length);
        --m_in_flight;
        ++m_reads;
        return data;
    }
    int most_in_flight() const { return m_most.load(); }
    int reads() const { return m_reads.load(); }

  private:
    mutable std::atomic<int> m_in_flight{0};
    mutable std::atomic<int> m_most{0};
    mutable std::atomic<int> m_reads{0};
};

class WindowReadsTest : public ScratchTest {
  protected:
    std::string segment(std::uint64_t segno) const {
        return fmt::format("00000001{:08X}{:08X}", segno >> 8, segno & 0xFF);
    }
    // Segments 2 .. 2+count-1, each with its newest commit at t(100 + segno).
    void archive(std::uint64_t count) {
        for (std::uint64_t s = 2; s < 2 + count; ++s) {
            repo::WalMeta meta;
            meta.name = segment(s);
            meta.last_commit = t(100 + static_cast<std::int64_t>(s));
            meta.pushed = t(0);
            auto pushed = repo::push_wal(storage(), meta, "wal " + meta.name, 1);
            ASSERT_TRUE(pushed) << pushed.error().message;
        }
    }
    // A backup consistent in segment 2, stopped at t(100).
    static repo::Manifest backup() {
        repo::Manifest m;
        m.id = "B1";
        m.timeline = 1;
        m.start_wal = "000000010000000000000002";
        m.stop_wal = m.start_wal;
        m.start_lsn = "0/2000100";
        m.stop_lsn = m.start_lsn;
        m.start_time = t(99);
        m.stop_time = t(100);
        return m;
    }
};

TEST_F(WindowReadsTest, SegmentMetadataIsReadSeveralAtATime) {
    archive(40);
    SlowReads slow(storage());
    const auto w = compute_window(slow, {backup()});
    ASSERT_TRUE(w) << w.error().message;
    // The same window as read one by one: to the newest commit of the last segment.
    EXPECT_EQ(*w->earliest, t(100));
    EXPECT_EQ(*w->latest, t(100 + 41));
    EXPECT_EQ(w->backups[0].last_segment, segment(41));
    EXPECT_FALSE(w->backups[0].gap);
    EXPECT_GE(slow.most_in_flight(), 4);
    // Each segment's metadata read once (a read may take two requests: head, then the rest).
    EXPECT_LE(slow.reads(), 2 * 40);
}

TEST_F(WindowReadsTest, ADamagedSegmentStillFailsTheWindow) {
    archive(10);
    const std::string key = repo::wal_key(segment(6));
    ASSERT_TRUE(storage().remove_if_exists(key));
    ASSERT_TRUE(storage().write(key, "not a WAL object at all", Overwrite::never));
    const auto w = compute_window(storage(), {backup()});
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ErrorCode::corrupt);
    EXPECT_NE(w.error().message.find(segment(6)), std::string::npos) << w.error().message;
}

TEST_F(WindowReadsTest, AHoleEndsTheReachWhereverTheReadsGot) {
    archive(12);
    ASSERT_TRUE(storage().remove_if_exists(repo::wal_key(segment(7))));
    const auto w = compute_window(storage(), {backup()});
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ(w->backups[0].last_segment, segment(6));
    EXPECT_EQ(w->backups[0].first_missing_segment, segment(7));
    EXPECT_TRUE(w->backups[0].gap);
    EXPECT_EQ(*w->latest, t(106));
}

}  // namespace
