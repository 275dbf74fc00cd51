// The scheduler of one source: which job runs when. Jobs of one source run one at a time, in
// the order backup, expire, copy, verify, drill when several are due together. Pure logic over
// times: the agent's thread asks `due(now)`, runs the job, and reports `finished`; tests drive
// it with a simulated clock.
//
// The missed-window rule: at construction, a cron job whose latest firing time before `now` is
// later than its last run (or that never ran) is due at once, one time, however many windows
// were missed. An "every D" job is due D after its last start (at once when it never ran).
//
// The backup window (optional, with a cron backup schedule): a backup due by its schedule or by
// the missed-window rule that would start outside the window is not run but skipped
// (DueJob::outside_window); the caller records the skip and calls finished(), so the next one
// is the schedule's next firing. A missed window is therefore made up at start-up only while
// the window is still open. Extra backups (the RTO budget) are not held to the window.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/schedule.hpp"
#include "util/time.hpp"

namespace lifeboat::agent {

// `capture` is no scheduled kind (not in k_job_kinds): the continuous log stream of a source
// whose kind has one, named in the history and the failure counters.
enum class JobKind { backup, expire, copy, verify, drill, capture };
inline constexpr JobKind k_job_kinds[] = {JobKind::backup, JobKind::expire, JobKind::copy,
                                          JobKind::verify, JobKind::drill};
std::string_view job_kind_name(JobKind kind);
std::optional<JobKind> parse_job_kind(std::string_view name);

enum class Trigger { schedule, missed, rto_budget, after_backup };
std::string_view trigger_name(Trigger trigger);

struct DueJob {
    JobKind kind;
    Trigger trigger;
    Timestamp due;                // when it became due (the earliest due job runs first)
    bool outside_window = false;  // a backup outside its backup window: skip it, do not run it
};

class SourceScheduler {
  public:
    // `last_runs`: when each kind last started (from the job history, or the catalog for
    // backups); absent when never.
    SourceScheduler(std::map<JobKind, Schedule> schedules,
                    const std::map<JobKind, Timestamp>& last_runs, Timestamp now,
                    std::optional<DailyWindow> backup_window = std::nullopt);

    // The first job due at `now`, if any (the caller runs it, then calls finished()).
    std::optional<DueJob> next_due(Timestamp now) const;
    // Records that `kind` ran from `started` to `finished_at`: its next time comes from there.
    void finished(JobKind kind, Timestamp started, Timestamp finished_at);
    // Asks for one extra job as soon as possible (the RTO budget's extra backup).
    void request(JobKind kind, Trigger trigger);
    // When the earliest pending job is due (nullopt: nothing scheduled).
    std::optional<Timestamp> next_wake() const;
    std::optional<Timestamp> due_at(JobKind kind) const;

  private:
    std::map<JobKind, Schedule> m_schedules;
    std::optional<DailyWindow> m_backup_window;
    std::map<JobKind, Timestamp> m_due;
    std::map<JobKind, Trigger> m_trigger;
};

}  // namespace lifeboat::agent
