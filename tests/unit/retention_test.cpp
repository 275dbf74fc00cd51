// Retention policies (src/engine/retention.hpp), on simulated calendars.
#include <gtest/gtest.h>

#include <set>

#include "engine/retention.hpp"

using namespace lifeboat;
using namespace lifeboat::engine;

namespace {

constexpr std::int64_t k_hour = 3600LL * 1000000;

Timestamp at(const char* text) {
    return parse_iso8601(text).value();
}

// One backup every `step` microseconds from `first` up to (not including) `end`.
std::vector<RetentionCandidate> schedule(Timestamp first, Timestamp end, std::int64_t step) {
    std::vector<RetentionCandidate> out;
    for (Timestamp t = first; t < end; t.micros += step)
        out.push_back({format_compact(t), "7312", t, false});
    return out;
}

std::set<std::string> kept(const std::vector<RetentionCandidate>& candidates, Timestamp now,
                           const RetentionPolicy& policy) {
    std::set<std::string> out;
    for (const auto& d : apply_retention(candidates, now, policy))
        if (d.keep) out.insert(d.id);
    return out;
}

RetentionPolicy policy(std::chrono::seconds window, unsigned min = 1) {
    RetentionPolicy p;
    p.window = window;
    p.min_backups = min;
    return p;
}

}  // namespace

TEST(Retention, WindowKeepsBackupsInsideAndTheNewestBeforeIt) {
    // Hourly from 00:00 to 23:00; now 23:30; a 2-hour window starts at 21:30.
    const auto backups = schedule(at("2026-11-26T00:00:00Z"), at("2026-11-27T00:00:00Z"), k_hour);
    const auto result =
        apply_retention(backups, at("2026-11-26T23:30:00Z"), policy(std::chrono::hours(2)));
    std::set<std::string> ids;
    for (const auto& d : result) {
        if (!d.keep) continue;
        ids.insert(d.id);
        if (d.id == "20261126T210000Z") EXPECT_TRUE(d.window_anchor);
    }
    EXPECT_EQ(ids,
              (std::set<std::string>{"20261126T210000Z", "20261126T220000Z", "20261126T230000Z"}));
}

TEST(Retention, BackupOnTheWindowBoundaryIsInsideAndIsItsOwnStart) {
    const auto backups = schedule(at("2026-11-26T00:00:00Z"), at("2026-11-26T04:00:00Z"), k_hour);
    EXPECT_EQ(kept(backups, at("2026-11-26T03:00:00Z"), policy(std::chrono::hours(2))),
              (std::set<std::string>{"20261126T010000Z", "20261126T020000Z", "20261126T030000Z"}));
}

TEST(Retention, MinimumCountKeepsTheNewestEvenWhenAllAreOld) {
    const auto backups =
        schedule(at("2026-01-01T00:00:00Z"), at("2026-01-05T00:00:00Z"), 24 * k_hour);
    EXPECT_EQ(kept(backups, at("2026-11-26T00:00:00Z"), policy(std::chrono::seconds(0), 2)),
              (std::set<std::string>{"20260103T000000Z", "20260104T000000Z"}));
    // With a window that ends after every backup, the newest is still the window's start.
    EXPECT_EQ(kept(backups, at("2026-11-26T00:00:00Z"), policy(std::chrono::hours(24), 0)),
              (std::set<std::string>{"20260104T000000Z"}));
}

TEST(Retention, PinnedBackupsAreKeptWhateverTheirAge) {
    auto backups = schedule(at("2026-11-01T00:00:00Z"), at("2026-11-27T00:00:00Z"), 24 * k_hour);
    backups[3].pinned = true;
    const auto ids = kept(backups, at("2026-11-26T12:00:00Z"), policy(std::chrono::hours(24)));
    EXPECT_TRUE(ids.count(backups[3].id));
    EXPECT_EQ(ids.size(), 3u);  // pinned + window start (25th) + inside the window (26th)
}

TEST(Retention, GrandfatherFatherSonKeepsTheNewestOfEachPeriod) {
    // Every 6 hours through 2025-12-20 .. 2026-03-10.
    const auto backups =
        schedule(at("2025-12-20T00:00:00Z"), at("2026-03-10T00:00:00Z"), 6 * k_hour);
    RetentionPolicy p = policy(std::chrono::seconds(0), 0);
    p.daily = 3;
    p.weekly = 2;
    p.monthly = 3;
    p.yearly = 2;
    EXPECT_EQ(kept(backups, at("2026-03-10T00:00:00Z"), p),
              (std::set<std::string>{
                  // daily: 9th, 8th, 7th March (the 9th is also the newest of week, month, year)
                  "20260309T180000Z", "20260308T180000Z", "20260307T180000Z",
                  // weekly: ISO week 2026-W11 (from Monday 9th) and W10 (ends Sunday 8th)
                  // monthly: March, February, January
                  "20260228T180000Z", "20260131T180000Z",
                  // yearly: 2026 and 2025
                  "20251231T180000Z"}));
}

TEST(Retention, IsoWeeksBelongToTheYearOfTheirThursday) {
    // 2026-01-01 is a Thursday: Monday 2025-12-29 .. Sunday 2026-01-04 are week 2026-W01.
    const std::vector<RetentionCandidate> backups = {
        {"a", "7312", at("2025-12-28T12:00:00Z"), false},  // Sunday: 2025-W52
        {"b", "7312", at("2025-12-29T12:00:00Z"), false},  // Monday: 2026-W01
        {"c", "7312", at("2026-01-04T12:00:00Z"), false},  // Sunday: 2026-W01
    };
    RetentionPolicy p = policy(std::chrono::seconds(0), 0);
    p.weekly = 2;
    const auto result = apply_retention(backups, at("2026-01-05T00:00:00Z"), p);
    EXPECT_TRUE(result[0].keep);
    EXPECT_EQ(result[0].reasons, std::vector<std::string>{"weekly 2025-W52"});
    EXPECT_FALSE(result[1].keep);
    EXPECT_EQ(result[2].reasons, std::vector<std::string>{"weekly 2026-W01"});
}

TEST(Retention, SourcesAreJudgedSeparately) {
    std::vector<RetentionCandidate> backups = {
        {"old-other", "9999", at("2026-01-01T00:00:00Z"), false},
        {"old", "7312", at("2026-11-01T00:00:00Z"), false},
        {"new", "7312", at("2026-11-26T00:00:00Z"), false},
    };
    EXPECT_EQ(kept(backups, at("2026-11-26T01:00:00Z"), policy(std::chrono::seconds(0), 1)),
              (std::set<std::string>{"old-other", "new"}));
}

TEST(Retention, DescribesAndParsesTheWindow) {
    RetentionPolicy p;
    EXPECT_EQ(p.describe(), "window 7d, at least 1 backup");
    p.window = std::chrono::hours(36);
    p.min_backups = 2;
    p.daily = 7;
    p.monthly = 12;
    EXPECT_EQ(p.describe(), "window 36h, at least 2 backups, daily 7, monthly 12");
    EXPECT_EQ(parse_window("2h").value(), std::chrono::hours(2));
    EXPECT_EQ(parse_window("0").value(), std::chrono::seconds(0));
    EXPECT_FALSE(parse_window("two days"));
    EXPECT_FALSE(parse_window("-1d"));
}
