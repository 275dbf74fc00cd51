// Issue 10, items 3 and 4: what `list` says about an empty window, the window's included end,
// isolated backups, and the one target syntax of restore, drill and validate.
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

class WindowStateTest : public ScratchTest {
  protected:
    void wal(const std::string& name, std::int64_t last_commit) {
        repo::WalMeta meta;
        meta.name = name;
        if (last_commit >= 0) meta.last_commit = t(last_commit);
        meta.pushed = t(0);
        auto pushed = repo::push_wal(storage(), meta, "wal " + name, 1);
        ASSERT_TRUE(pushed) << pushed.error().message;
    }
    // A backup in segment `segment` (hex, 16 digits), stopped at t(stop).
    static repo::Manifest backup(std::string id, std::string segment, std::int64_t stop) {
        repo::Manifest m;
        m.id = std::move(id);
        m.timeline = 1;
        m.start_wal = "00000001" + segment;
        m.stop_wal = m.start_wal;
        m.start_lsn = "0/" + std::to_string(std::stoull(segment, nullptr, 16)) + "000100";
        m.stop_lsn = m.start_lsn;
        m.start_time = t(stop - 1);
        m.stop_time = t(stop);
        return m;
    }
    RestorableWindow window(const std::vector<repo::Manifest>& manifests) {
        auto w = compute_window(storage(), manifests);
        EXPECT_TRUE(w) << w.error().message;
        return w.value_or(RestorableWindow{});
    }
};

}  // namespace

TEST_F(WindowStateTest, RightAfterABackupTheWindowWaitsForTheNextSegment) {
    wal("000000010000000000000002", 90);  // the backup's own segment: commits before its stop
    const auto w = window({backup("B1", "0000000000000002", 100)});
    EXPECT_FALSE(w.earliest);
    EXPECT_TRUE(w.backups[0].consistent);
    const WindowState state = window_state(w);
    EXPECT_EQ(state.status, "waiting_for_wal");
    EXPECT_NE(state.reason.find("waiting for the first WAL segment after backup B1"),
              std::string::npos)
        << state.reason;
    EXPECT_NE(state.reason.find("lifeboat check"), std::string::npos);
    EXPECT_NE(state.reason.find("archive_timeout"), std::string::npos);
}

TEST_F(WindowStateTest, AnIdleSegmentAfterTheBackupIsNotACommit) {
    wal("000000010000000000000002", 90);
    wal("000000010000000000000003", -1);  // switched, but nothing committed
    const auto w = window({backup("B1", "0000000000000002", 100)});
    EXPECT_EQ(window_state(w).status, "no_commit_yet");
    wal("000000010000000000000004", 120);
    const auto open = window({backup("B1", "0000000000000002", 100)});
    EXPECT_EQ(window_state(open).status, "open");
    EXPECT_TRUE(window_state(open).reason.empty());
}

TEST_F(WindowStateTest, ABackupWaitingForItsOwnWalSaysSo) {
    const auto w = window({backup("B1", "0000000000000002", 100)});
    EXPECT_EQ(window_state(w).status, "waiting_for_backup_wal");
    EXPECT_NE(window_state(w).reason.find("000000010000000000000002"), std::string::npos);
    EXPECT_EQ(window_state(window({})).status, "no_backup");
}

TEST_F(WindowStateTest, BothEndsAreIncluded) {
    wal("000000010000000000000002", 90);
    wal("000000010000000000000003", 120);
    wal("000000010000000000000004", -1);  // nothing committed after t(120)
    const auto w = window({backup("B1", "0000000000000002", 100)});
    ASSERT_TRUE(w.latest);
    EXPECT_EQ(*w.latest, t(120));
    EXPECT_TRUE(choose_restore(w, {.target = t(100)}));
    EXPECT_TRUE(choose_restore(w, {.target = t(119)}));
    auto at_end = choose_restore(w, {.target = t(120)});
    ASSERT_TRUE(at_end) << at_end.error().message;
    // Where a restore to exactly the end stops: after the last transaction end of the run.
    EXPECT_EQ((*at_end)->last_commit_segment, "000000010000000000000003");
    auto after = choose_restore(w, {.target = Timestamp{t(120).micros + 1}});
    ASSERT_FALSE(after);
    EXPECT_EQ(after.error().code, ErrorCode::outside_window);
}

TEST_F(WindowStateTest, OlderBackupsBesideAWaitingOneAreIsolated) {
    // B1 kept without the WAL after it (segment 3 expired), B2 just taken.
    wal("000000010000000000000002", 90);
    wal("000000010000000000000005", 190);
    const auto w =
        window({backup("B1", "0000000000000002", 100), backup("B2", "0000000000000005", 200)});
    EXPECT_FALSE(w.earliest);
    ASSERT_EQ(w.isolated.size(), 1u);
    EXPECT_EQ(w.isolated[0], "B1");
    EXPECT_EQ(window_state(w).status, "waiting_for_wal");
}

TEST(TargetSyntax, OneParserForRestoreDrillAndValidate) {
    const Timestamp now{1'800'000'000'000'000};
    EXPECT_EQ(parse_target("latest", "", now)->kind, TargetRequest::Kind::latest);
    EXPECT_EQ(parse_target("consistent", "", now)->kind, TargetRequest::Kind::consistent);
    auto time = parse_target("2026-11-26T08:00:00Z", "", now);
    ASSERT_TRUE(time);
    EXPECT_EQ(time->kind, TargetRequest::Kind::time);
    EXPECT_EQ(format_iso8601(time->time), "2026-11-26T08:00:00Z");
    auto ago = parse_target("", "2w", now);
    ASSERT_TRUE(ago);
    EXPECT_EQ(ago->time.micros, now.micros - 14LL * 86400 * 1'000'000);
    for (auto [to, back] : {std::pair<const char*, const char*>{"", ""},
                            {"latest", "1h"},
                            {"yesterday", ""},
                            {"", "1y"},
                            {"", "20000w"}}) {
        auto bad = parse_target(to, back, now);
        ASSERT_FALSE(bad) << to << " " << back;
        EXPECT_EQ(bad.error().code, ErrorCode::usage);
    }
    EXPECT_EQ(describe_target(*parse_target("consistent", "", now)), "consistent");
}

TEST(TargetSyntax, DurationsTakeWeeks) {
    EXPECT_EQ(parse_duration("2w").value(), std::chrono::hours(14 * 24));
    EXPECT_EQ(parse_duration("5214w").value(), std::chrono::hours(5214 * 7 * 24));
    EXPECT_FALSE(parse_duration("5215w"));  // more than 36500 days
}

TEST(TargetSyntax, ADateMeansAWholeUtcDay) {
    auto end = parse_time_or_date("2026-12-31", WholeDay::end);
    ASSERT_TRUE(end);
    EXPECT_EQ(format_iso8601(*end), "2027-01-01T00:00:00Z");
    auto start = parse_time_or_date("2026-12-31", WholeDay::start);
    ASSERT_TRUE(start);
    EXPECT_EQ(format_iso8601(*start), "2026-12-31T00:00:00Z");
    auto time = parse_time_or_date("2026-12-31T12:00:00+01:00", WholeDay::end);
    ASSERT_TRUE(time);
    EXPECT_EQ(format_iso8601(*time), "2026-12-31T11:00:00Z");
    for (const char* bad :
         {"2026-02-30", "2026-1-31", "9999-12-31", "31.12.2026", "2026-12-31T12:00"}) {
        auto refused = parse_time_or_date(bad, WholeDay::end);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().code, ErrorCode::usage);
    }
}
