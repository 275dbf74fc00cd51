#include <gtest/gtest.h>

#include <vector>

#include "agent/schedule.hpp"
#include "agent/scheduler.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

Timestamp at(const char* iso) {
    return parse_iso8601(iso).value();
}
Schedule schedule(const char* text) {
    auto s = Schedule::parse(text);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return *s;
}
constexpr std::int64_t k_minute = 60LL * 1000000;

}  // namespace

TEST(AgentSchedule, CronNextFiring) {
    const auto daily = schedule("0 4 * * *");
    EXPECT_EQ(daily.next_after(at("2026-11-29T03:59:59Z")), at("2026-11-29T04:00:00Z"));
    EXPECT_EQ(daily.next_after(at("2026-11-29T04:00:00Z")), at("2026-11-30T04:00:00Z"));
    EXPECT_EQ(schedule("*/15 * * * *").next_after(at("2026-11-29T10:07:30Z")),
              at("2026-11-29T10:15:00Z"));
    // Sunday 03:30 (0 and 7 are both Sunday); 2026-11-29 is a Sunday.
    EXPECT_EQ(schedule("30 3 * * 0").next_after(at("2026-11-29T04:00:00Z")),
              at("2026-12-06T03:30:00Z"));
    EXPECT_EQ(schedule("30 3 * * 7").next_after(at("2026-11-28T00:00:00Z")),
              at("2026-11-29T03:30:00Z"));
    // Month ends and leap days.
    EXPECT_EQ(schedule("0 0 31 * *").next_after(at("2026-11-01T00:00:00Z")),
              at("2026-12-31T00:00:00Z"));
    EXPECT_EQ(schedule("0 12 29 2 *").next_after(at("2026-03-01T00:00:00Z")),
              at("2028-02-29T12:00:00Z"));
    EXPECT_FALSE(schedule("0 0 30 2 *").next_after(at("2026-03-01T00:00:00Z")));
    // Day of month OR day of week when both are restricted (as cron does).
    EXPECT_EQ(schedule("0 0 1 * 1").next_after(at("2026-11-29T12:00:00Z")),
              at("2026-11-30T00:00:00Z"));  // Monday 30th comes before the 1st
    EXPECT_EQ(schedule("0 9-17/4 * * 1-5").next_after(at("2026-11-27T17:00:00Z")),
              at("2026-11-30T09:00:00Z"));  // Friday 17:00 -> Monday 09:00
}

TEST(AgentSchedule, CronPreviousFiring) {
    const auto daily = schedule("0 4 * * *");
    EXPECT_EQ(daily.previous_at_or_before(at("2026-11-29T04:00:00Z")), at("2026-11-29T04:00:00Z"));
    EXPECT_EQ(daily.previous_at_or_before(at("2026-11-29T03:59:00Z")), at("2026-11-28T04:00:00Z"));
    EXPECT_FALSE(schedule("every 5m").previous_at_or_before(at("2026-11-29T03:59:00Z")));
}

TEST(AgentSchedule, Every) {
    const auto s = schedule("every 90s");
    EXPECT_TRUE(s.is_interval());
    EXPECT_EQ(s.next_after(at("2026-11-29T00:00:00Z")), at("2026-11-29T00:01:30Z"));
}

TEST(AgentSchedule, Refusals) {
    for (const char* bad : {"", "every", "every 0s", "every 5 minutes", "0 4 * *", "60 * * * *",
                            "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *",
                            "5-1 * * * *", "a * * * *", "0 4 * * * *"}) {
        auto s = Schedule::parse(bad);
        EXPECT_FALSE(s) << bad;
        if (!s) {
            EXPECT_EQ(s.error().code, ErrorCode::config) << bad;
        }
    }
}

namespace {

struct Run {
    JobKind kind;
    Trigger trigger;
    Timestamp start;
    Timestamp end;
};

// Drives a scheduler over [from, to) a minute at a time, each job taking `duration`.
std::vector<Run> simulate(SourceScheduler& scheduler, Timestamp from, Timestamp to,
                          std::int64_t duration) {
    std::vector<Run> runs;
    Timestamp now = from;
    while (now < to) {
        if (auto job = scheduler.next_due(now)) {
            const Timestamp end{now.micros + duration};
            runs.push_back({job->kind, job->trigger, now, end});
            scheduler.finished(job->kind, now, end);
            now = end;
            continue;
        }
        now.micros += k_minute;
    }
    return runs;
}

}  // namespace

TEST(AgentScheduler, SimulatedWeekRunsExactlyTheScheduledJobs) {
    std::map<JobKind, Schedule> schedules = {{JobKind::backup, schedule("0 4 * * *")},
                                             {JobKind::expire, schedule("30 4 * * *")},
                                             {JobKind::drill, schedule("0 6 * * 0")},
                                             {JobKind::verify, schedule("every 12h")}};
    const Timestamp start = at("2026-11-23T00:00:00Z");  // a Monday
    // Everything ran just before: nothing is missed.
    std::map<JobKind, Timestamp> last = {{JobKind::backup, at("2026-11-22T04:00:00Z")},
                                         {JobKind::expire, at("2026-11-22T04:30:00Z")},
                                         {JobKind::drill, at("2026-11-22T06:00:00Z")},
                                         {JobKind::verify, at("2026-11-22T23:00:00Z")}};
    SourceScheduler scheduler(schedules, last, start);
    const auto runs = simulate(scheduler, start, at("2026-11-30T00:00:00Z"), 20 * k_minute);
    std::map<JobKind, std::vector<Timestamp>> starts;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        starts[runs[i].kind].push_back(runs[i].start);
        if (i > 0) {
            EXPECT_GE(runs[i].start, runs[i - 1].end) << "two jobs of one source at once";
        }
    }
    ASSERT_EQ(starts[JobKind::backup].size(), 7u);
    ASSERT_EQ(starts[JobKind::expire].size(), 7u);
    for (int d = 0; d < 7; ++d) {
        EXPECT_EQ(starts[JobKind::backup][d].micros,
                  at("2026-11-23T04:00:00Z").micros + d * 1440 * k_minute);
        EXPECT_EQ(starts[JobKind::expire][d].micros,
                  at("2026-11-23T04:30:00Z").micros + d * 1440 * k_minute);
    }
    ASSERT_EQ(starts[JobKind::drill].size(), 1u);
    EXPECT_EQ(starts[JobKind::drill][0], at("2026-11-29T06:00:00Z"));
    // Every 12 h from 2026-11-22T23:00: 11:00 and 23:00 each day, 14 in the week.
    EXPECT_EQ(starts[JobKind::verify].size(), 14u);
    EXPECT_EQ(starts[JobKind::verify][0], at("2026-11-23T11:00:00Z"));
}

TEST(AgentScheduler, JobsDueTogetherRunOneAfterAnother) {
    std::map<JobKind, Schedule> schedules = {{JobKind::backup, schedule("0 4 * * *")},
                                             {JobKind::expire, schedule("0 4 * * *")}};
    const Timestamp start = at("2026-11-23T03:00:00Z");
    std::map<JobKind, Timestamp> last = {{JobKind::backup, at("2026-11-22T04:00:00Z")},
                                         {JobKind::expire, at("2026-11-22T04:00:00Z")}};
    SourceScheduler scheduler(schedules, last, start);
    const auto runs = simulate(scheduler, start, at("2026-11-23T06:00:00Z"), 90 * k_minute);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].kind, JobKind::backup);
    EXPECT_EQ(runs[1].kind, JobKind::expire);
    EXPECT_EQ(runs[1].start, runs[0].end);
}

TEST(AgentScheduler, MissedWindowRunsOnceAcrossARestart) {
    std::map<JobKind, Schedule> schedules = {{JobKind::backup, schedule("0 4 * * *")}};
    // The agent ran until Monday 05:00 (Monday's backup done), was down three days, and
    // restarts Thursday 12:00: Tuesday's, Wednesday's and Thursday's windows were missed.
    const Timestamp monday_backup = at("2026-11-23T04:00:00Z");
    const Timestamp restart = at("2026-11-26T12:00:00Z");
    SourceScheduler scheduler(schedules, {{JobKind::backup, monday_backup}}, restart);
    const auto runs = simulate(scheduler, restart, at("2026-11-27T12:00:00Z"), 10 * k_minute);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].start, restart);
    EXPECT_EQ(runs[0].trigger, Trigger::missed);
    EXPECT_EQ(runs[1].start, at("2026-11-27T04:00:00Z"));
    EXPECT_EQ(runs[1].trigger, Trigger::schedule);

    // Restarting before the next window with the last run recorded: nothing is missed.
    SourceScheduler again(schedules, {{JobKind::backup, runs[0].start}},
                          at("2026-11-26T13:00:00Z"));
    EXPECT_FALSE(again.next_due(at("2026-11-26T13:00:00Z")));
    EXPECT_EQ(again.next_wake(), at("2026-11-27T04:00:00Z"));

    // A cadence that lapsed while down runs once at start-up, then every D from there.
    std::map<JobKind, Schedule> every = {{JobKind::verify, schedule("every 6h")}};
    SourceScheduler cadence(every, {{JobKind::verify, at("2026-11-20T00:00:00Z")}}, restart);
    const auto cruns = simulate(cadence, restart, at("2026-11-26T19:00:00Z"), k_minute);
    ASSERT_EQ(cruns.size(), 2u);
    EXPECT_EQ(cruns[0].start, restart);
    EXPECT_EQ(cruns[1].start, at("2026-11-26T18:00:00Z"));
}

TEST(AgentScheduler, ExtraRequestRunsOnce) {
    std::map<JobKind, Schedule> schedules = {{JobKind::backup, schedule("0 4 * * *")}};
    const Timestamp now = at("2026-11-23T10:00:00Z");
    SourceScheduler scheduler(schedules, {{JobKind::backup, at("2026-11-23T04:00:00Z")}}, now);
    EXPECT_FALSE(scheduler.next_due(now));
    scheduler.request(JobKind::backup, Trigger::rto_budget);
    auto job = scheduler.next_due(now);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->trigger, Trigger::rto_budget);
    scheduler.finished(JobKind::backup, now, Timestamp{now.micros + k_minute});
    EXPECT_EQ(scheduler.next_wake(), at("2026-11-24T04:00:00Z"));
}
