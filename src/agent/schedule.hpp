// Schedules of the agent's jobs: a 5-field cron expression read in UTC ("0 4 * * *") or a fixed
// cadence ("every 6h"). Pure: the next and previous firing times are functions of the schedule
// and a time, so tests can walk a simulated week without waiting.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::agent {

class Schedule {
  public:
    // "every DURATION" (parse_duration's units, at least 1 s) or "MIN HOUR DOM MONTH DOW" with
    // numbers, '*', ranges "a-b", lists "a,b" and steps "*/n" or "a-b/n"; DOW 0-7 (0 and 7 are
    // Sunday). As in cron, when both DOM and DOW are restricted a day matches either.
    // ErrorCode::config with the reason otherwise.
    static Result<Schedule> parse(std::string_view text);

    // The first firing time strictly after `after`. For "every D" that is after + D (the
    // cadence counts from the last run, which the scheduler passes in). For cron, minute
    // resolution; nullopt when no time up to k_latest_time matches (e.g. "0 0 30 2 *").
    std::optional<Timestamp> next_after(Timestamp after) const;

    // The latest firing time at or before `at` (cron only: nullopt for "every", and when none
    // matches in the 366 days before `at`). Used for the missed-window rule.
    std::optional<Timestamp> previous_at_or_before(Timestamp at) const;

    bool is_interval() const { return m_interval.count() > 0; }
    std::chrono::seconds interval() const { return m_interval; }
    const std::string& text() const { return m_text; }

  private:
    bool matches_day(int year, unsigned month, unsigned day) const;
    std::string m_text;
    std::chrono::seconds m_interval{0};
    std::bitset<60> m_minutes;
    std::bitset<24> m_hours;
    std::bitset<32> m_days;     // 1..31
    std::bitset<13> m_months;   // 1..12
    std::bitset<7> m_weekdays;  // 0 = Sunday
    bool m_days_restricted = false;
    bool m_weekdays_restricted = false;
};

// A daily time-of-day range in UTC, "HH:MM-HH:MM" (start included, end excluded; it may wrap
// past midnight: "23:30-01:00"). The backup window: a scheduled backup may start only inside it.
class DailyWindow {
  public:
    // ErrorCode::config with the reason for anything but two distinct HH:MM times.
    static Result<DailyWindow> parse(std::string_view text);
    bool contains(Timestamp at) const;
    const std::string& text() const { return m_text; }

  private:
    std::string m_text;
    int m_start_minute = 0;  // minutes after midnight UTC
    int m_end_minute = 0;
};

}  // namespace lifeboat::agent
