#include "agent/scheduler.hpp"

#include <algorithm>

namespace lifeboat::agent {

std::string_view job_kind_name(JobKind kind) {
    switch (kind) {
        case JobKind::backup:
            return "backup";
        case JobKind::expire:
            return "expire";
        case JobKind::copy:
            return "copy";
        case JobKind::verify:
            return "verify";
        case JobKind::drill:
            return "drill";
        case JobKind::capture:
            return "capture";
    }
    return "unknown";
}

std::optional<JobKind> parse_job_kind(std::string_view name) {
    for (const JobKind kind : k_job_kinds)
        if (job_kind_name(kind) == name) return kind;
    return std::nullopt;
}

std::string_view trigger_name(Trigger trigger) {
    switch (trigger) {
        case Trigger::schedule:
            return "schedule";
        case Trigger::missed:
            return "missed window";
        case Trigger::rto_budget:
            return "rto budget";
        case Trigger::after_backup:
            return "after backup";
    }
    return "unknown";
}

SourceScheduler::SourceScheduler(std::map<JobKind, Schedule> schedules,
                                 const std::map<JobKind, Timestamp>& last_runs, Timestamp now,
                                 std::optional<DailyWindow> backup_window)
    : m_schedules(std::move(schedules)), m_backup_window(std::move(backup_window)) {
    for (const auto& [kind, schedule] : m_schedules) {
        const auto last = last_runs.find(kind);
        const bool ran = last != last_runs.end();
        if (schedule.is_interval()) {
            // Never ran, or its cadence lapsed while the agent was down: once, now.
            const auto next = ran ? schedule.next_after(last->second) : std::optional(now);
            m_due[kind] = next ? std::max(*next, now) : k_latest_time;
            m_trigger[kind] = ran && next && *next > now ? Trigger::schedule : Trigger::missed;
            continue;
        }
        const auto previous = schedule.previous_at_or_before(now);
        if (previous && (!ran || last->second < *previous)) {
            m_due[kind] = now;
            m_trigger[kind] = Trigger::missed;
        } else if (const auto next = schedule.next_after(now)) {
            m_due[kind] = *next;
            m_trigger[kind] = Trigger::schedule;
        }
    }
}

std::optional<DueJob> SourceScheduler::next_due(Timestamp now) const {
    for (const JobKind kind : k_job_kinds) {
        const auto due = m_due.find(kind);
        if (due == m_due.end() || due->second > now) continue;
        const Trigger trigger = m_trigger.at(kind);
        const bool held_to_window = kind == JobKind::backup && m_backup_window &&
                                    (trigger == Trigger::schedule || trigger == Trigger::missed);
        return DueJob{kind, trigger, due->second,
                      held_to_window && !m_backup_window->contains(now)};
    }
    return std::nullopt;
}

void SourceScheduler::finished(JobKind kind, Timestamp started, Timestamp finished_at) {
    const auto schedule = m_schedules.find(kind);
    if (schedule == m_schedules.end()) {
        m_due.erase(kind);  // an extra job of a kind without a schedule
        return;
    }
    // A cadence counts from the start; a job that outlasted its cadence is followed at once,
    // once. Cron windows that passed while the job ran are not made up.
    const auto next = schedule->second.is_interval() ? schedule->second.next_after(started)
                                                     : schedule->second.next_after(finished_at);
    if (next) {
        m_due[kind] = std::max(*next, finished_at);
        m_trigger[kind] = Trigger::schedule;
    } else {
        m_due.erase(kind);
    }
}

void SourceScheduler::request(JobKind kind, Trigger trigger) {
    m_due[kind] = k_earliest_time;
    m_trigger[kind] = trigger;
}

std::optional<Timestamp> SourceScheduler::next_wake() const {
    std::optional<Timestamp> out;
    for (const auto& [kind, due] : m_due)
        if (!out || due < *out) out = due;
    return out;
}

std::optional<Timestamp> SourceScheduler::due_at(JobKind kind) const {
    const auto due = m_due.find(kind);
    if (due == m_due.end()) return std::nullopt;
    return due->second;
}

}  // namespace lifeboat::agent
