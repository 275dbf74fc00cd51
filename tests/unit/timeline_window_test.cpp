// Restorable windows per timeline and the choice of backup and timeline for a restore
// (docs/repository-format.md, "Timelines"; issue 9, item 1), over a synthetic WAL archive.
#include <gtest/gtest.h>

#include "engine/window.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::engine;
using namespace lifeboat::repo::test_support;

namespace {

Timestamp t(std::int64_t seconds) {
    return Timestamp{1'800'000'000'000'000 + seconds * 1'000'000};
}

class TimelineWindowTest : public ScratchTest {
  protected:
    // A stored WAL file whose newest commit is at t(last_commit) (no commit when negative).
    void wal(const std::string& name, std::int64_t last_commit, const std::string& content = "") {
        repo::WalMeta meta;
        meta.name = name;
        if (last_commit >= 0) meta.last_commit = t(last_commit);
        meta.pushed = t(0);
        auto pushed = repo::push_wal(storage(), meta, content.empty() ? "wal " + name : content, 1);
        ASSERT_TRUE(pushed) << pushed.error().message;
    }
    void history(std::uint32_t timeline, const std::string& text) {
        wal(fmt::format("{:08X}.history", timeline), -1, text);
    }
    // A backup on `timeline` in segment 2, consistent at 0/2000100, stopped at t(100).
    static repo::Manifest backup(std::string id, std::uint32_t timeline = 1,
                                 std::string segment = "0000000000000002",
                                 std::string stop_lsn = "0/2000100", std::int64_t stop = 100) {
        repo::Manifest m;
        m.id = std::move(id);
        m.timeline = timeline;
        m.start_wal = fmt::format("{:08X}", timeline) + segment;
        m.stop_wal = m.start_wal;
        m.start_lsn = stop_lsn;
        m.stop_lsn = stop_lsn;
        m.start_time = t(stop - 1);
        m.stop_time = t(stop);
        return m;
    }
    RestorableWindow window(const std::vector<repo::Manifest>& manifests) {
        auto w = compute_window(storage(), manifests);
        EXPECT_TRUE(w) << w.error().message;
        return w.value_or(RestorableWindow{});
    }
    // The timeline a restore would follow, or the error's message.
    static std::string choose(const RestorableWindow& w, std::optional<std::int64_t> target,
                              TimelineRequest request = {}) {
        RestoreSelection selection;
        if (target) selection.target = t(*target);
        selection.timeline = request;
        auto chosen = choose_restore(w, selection);
        if (!chosen) return chosen.error().message;
        return fmt::format("{}@{}", (*chosen)->backup_id, (*chosen)->timeline);
    }

    // The scenario: timeline 1 goes on (segments 2..4, commits up to t(130)); a
    // restore to a time in segment 3 started timeline 2 there (commits up to t(150)).
    void branch_at_segment_3() {
        wal("000000010000000000000002", 110);
        wal("000000010000000000000003", 120);
        wal("000000010000000000000004", 130);
        history(2, "1\t0/3000200\tbefore 2027-01-15 08:00:15+00\n");
        wal("000000020000000000000003", 140);
        wal("000000020000000000000004", 150);
    }
};

constexpr TimelineRequest k_current{TimelineRequest::Kind::current, 0};
constexpr TimelineRequest k_latest{TimelineRequest::Kind::latest, 0};
constexpr TimelineRequest id(std::uint32_t n) {
    return {TimelineRequest::Kind::id, n};
}

}  // namespace

TEST_F(TimelineWindowTest, OneTimelineIsWhatItWasBefore) {
    wal("000000010000000000000002", 110);
    wal("000000010000000000000003", 120);
    const auto w = window({backup("B1")});
    ASSERT_EQ(w.timelines.size(), 1u);
    EXPECT_EQ(*w.earliest, t(100));
    EXPECT_EQ(*w.latest, t(120));
    EXPECT_EQ(w.backups[0].timeline, 1u);
    EXPECT_EQ(w.backups[0].last_segment, "000000010000000000000003");
    EXPECT_EQ(choose(w, 115), "B1@1");
    EXPECT_EQ(choose(w, std::nullopt), "B1@1");
    EXPECT_NE(choose(w, 125).find("outside the restorable window"), std::string::npos);
}

TEST_F(TimelineWindowTest, EachTimelineHasItsWindowAndTheBackupsOwnWins) {
    branch_at_segment_3();
    const auto w = window({backup("B1")});
    ASSERT_EQ(w.timelines.size(), 2u);
    const auto* one = w.timeline(1);
    const auto* two = w.timeline(2);
    ASSERT_TRUE(one && two);
    EXPECT_EQ(*one->latest, t(130));
    EXPECT_FALSE(one->parent);
    EXPECT_EQ(*two->parent, 1u);
    EXPECT_EQ(*two->branch_lsn, "0/3000200");
    EXPECT_EQ(*two->earliest, t(100));
    EXPECT_EQ(*two->latest, t(150));
    ASSERT_EQ(two->reaches.size(), 1u);
    EXPECT_EQ(two->reaches[0].last_segment, "000000020000000000000004");
    // The top-level window is each backup along its own timeline.
    EXPECT_EQ(*w.latest, t(130));
    // These segments are not real WAL: the branch time falls back to the newest commit of
    // the parent's segments before the switch.
    EXPECT_FALSE(two->branch_time);
    auto with_times = w;
    add_branch_times(storage(), with_times, {backup("B1")});
    EXPECT_EQ(*with_times.timeline(2)->branch_time, t(110));
    EXPECT_FALSE(with_times.timeline(1)->branch_time);

    EXPECT_EQ(choose(w, 125), "B1@1");  // on timeline 1, although timeline 2 reaches it too
    EXPECT_EQ(choose(w, 135), "B1@2");  // only timeline 2 reaches it
    EXPECT_EQ(choose(w, 125, id(2)), "B1@2");
    EXPECT_EQ(choose(w, 125, k_latest), "B1@2");
    EXPECT_NE(choose(w, 135, k_current).find("outside"), std::string::npos);
    // 'latest': two ends, two histories.
    EXPECT_NE(choose(w, std::nullopt).find("--timeline"), std::string::npos);
    EXPECT_EQ(choose(w, std::nullopt, k_current), "B1@1");
    EXPECT_EQ(choose(w, std::nullopt, id(1)), "B1@1");
    EXPECT_EQ(choose(w, std::nullopt, id(2)), "B1@2");
    EXPECT_NE(choose(w, std::nullopt, id(7)).find("no such timeline"), std::string::npos);
}

TEST_F(TimelineWindowTest, SiblingTimelinesReachingATargetAreAmbiguous) {
    branch_at_segment_3();
    history(3, "1\t0/3000300\tno recovery target specified\n");
    wal("000000030000000000000003", 145);
    wal("000000030000000000000004", 160);
    const auto w = window({backup("B1")});
    EXPECT_NE(choose(w, 142).find("whose histories differ"), std::string::npos);
    EXPECT_EQ(choose(w, 142, id(3)), "B1@3");
    EXPECT_EQ(choose(w, 155), "B1@3");  // timeline 2 ends at t(150)
    EXPECT_EQ(choose(w, 125), "B1@1");
}

TEST_F(TimelineWindowTest, NestedTimelinesPreferTheAncestor) {
    branch_at_segment_3();
    history(3, "1\t0/3000200\tx\n2\t0/4000100\ty\n");
    wal("000000030000000000000004", 160);
    wal("000000030000000000000005", 170);
    const auto w = window({backup("B1")});
    const auto* three = w.timeline(3);
    ASSERT_TRUE(three);
    EXPECT_EQ((std::vector<std::uint32_t>{1, 2}), three->ancestors);
    EXPECT_EQ(*three->latest, t(170));
    EXPECT_EQ(choose(w, 145), "B1@2");  // before timeline 3 left timeline 2: same data on both
    EXPECT_EQ(choose(w, 165), "B1@3");
    EXPECT_EQ(choose(w, std::nullopt, k_latest), "B1@3");
}

TEST_F(TimelineWindowTest, ABackupAfterTheBranchCannotFollowIt) {
    branch_at_segment_3();
    wal("000000010000000000000005", 135);
    // B2 became consistent in segment 4 of timeline 1, after timeline 2 left at 0/3000200.
    const auto w = window({backup("B1"), backup("B2", 1, "0000000000000004", "0/4000100", 125)});
    const auto* two = w.timeline(2);
    ASSERT_TRUE(two);
    ASSERT_EQ(two->reaches.size(), 1u);
    EXPECT_EQ(two->reaches[0].backup_id, "B1");
    EXPECT_EQ(choose(w, 130), "B2@1");
    // A time both reach along different histories (B2 on 1, B1 only via 2 past t(135)): none
    // here; but with --backup B2 --timeline 2 the refusal names the reason.
    RestoreSelection selection{.target = t(130), .backup_id = "B2", .timeline = id(2)};
    auto refused = choose_restore(w, selection);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("cannot be followed along timeline 2"),
              std::string::npos);
}

TEST_F(TimelineWindowTest, BackupsOnDifferentTimelinesReachingOneTimeAreAmbiguous) {
    branch_at_segment_3();
    wal("000000010000000000000005", 160);
    // B2 on timeline 2 at t(142); timeline 1 also goes on past it (t(160)).
    const auto w = window({backup("B1"), backup("B2", 2, "0000000000000004", "0/4000100", 142)});
    EXPECT_NE(choose(w, 145).find("different histories"), std::string::npos);
    EXPECT_EQ(choose(w, 145, id(2)), "B2@2");  // the newest backup along timeline 2
    EXPECT_EQ(choose(w, 145, id(1)), "B1@1");
    EXPECT_EQ(choose(w, std::nullopt), "B2@2");  // latest: the newest backup's own timeline
    // The top-level window is timeline 2's: B1 reaches along it from t(100).
    EXPECT_EQ(*w.earliest, t(100));
    EXPECT_EQ(*w.latest, t(150));
}

TEST_F(TimelineWindowTest, AfterAFailoverTheWindowRunsThroughBothTimelines) {
    // Timeline 1 ended in segment 3 (its last segment only as .partial); timeline 2 goes on.
    wal("000000010000000000000002", 110);
    wal("000000010000000000000003.partial", -1);
    history(2, "1\t0/3000200\tno recovery target specified\n");
    wal("000000020000000000000003", 120);
    wal("000000020000000000000004", 200);
    wal("000000020000000000000005", 240);
    const auto w = window({backup("B1"), backup("B2", 2, "0000000000000004", "0/4000100", 180)});
    EXPECT_EQ(*w.earliest, t(100));
    EXPECT_EQ(*w.latest, t(240));
    EXPECT_TRUE(w.isolated.empty());
    EXPECT_EQ(choose(w, 150), "B1@2");  // between the failover and B2: along timeline 2
    EXPECT_EQ(choose(w, 105), "B1@1");
    EXPECT_EQ(choose(w, 220), "B2@2");
    EXPECT_EQ(choose(w, std::nullopt), "B2@2");
}

TEST_F(TimelineWindowTest, AHoleOnTheChildTimelineIsAGap) {
    branch_at_segment_3();
    wal("000000020000000000000006", 170);  // segment 5 of timeline 2 is missing
    const auto w = window({backup("B1")});
    const auto* two = w.timeline(2);
    ASSERT_TRUE(two);
    EXPECT_EQ(two->reaches[0].first_missing_segment, "000000020000000000000005");
    EXPECT_TRUE(two->reaches[0].gap);
    EXPECT_EQ(*two->latest, t(150));
}

TEST_F(TimelineWindowTest, ADamagedHistoryStaysLocal) {
    branch_at_segment_3();
    history(3, "this is not a timeline history\n");
    const auto w = window({backup("B1")});
    const auto* three = w.timeline(3);
    ASSERT_TRUE(three);
    EXPECT_FALSE(three->problem.empty());
    EXPECT_TRUE(three->reaches.empty());
    EXPECT_EQ(*w.timeline(2)->latest, t(150));
    EXPECT_EQ(choose(w, 125), "B1@1");
    EXPECT_EQ(choose(w, 135), "B1@2");
    EXPECT_EQ(choose(w, std::nullopt, k_current), "B1@1");
}

TEST_F(TimelineWindowTest, ADamagedLaterHistoryMakesLatestAskWhichTimeline) {
    wal("000000010000000000000002", 110);
    wal("000000010000000000000003", 120);
    history(2, "garbage\n");
    const auto w = window({backup("B1")});
    EXPECT_NE(choose(w, std::nullopt).find("its history is damaged"), std::string::npos);
    EXPECT_EQ(choose(w, std::nullopt, id(1)), "B1@1");
    EXPECT_EQ(choose(w, 115), "B1@1");
}
