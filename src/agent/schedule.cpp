#include "agent/schedule.hpp"

#include <charconv>
#include <vector>

namespace lifeboat::agent {

namespace {

constexpr std::int64_t k_micros_per_minute = 60LL * 1000000;
constexpr std::int64_t k_micros_per_day = 86400LL * 1000000;

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> out;
    while (true) {
        const auto at = text.find(separator);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return out;
        text.remove_prefix(at + 1);
    }
}

Result<unsigned> number(std::string_view text, std::string_view field) {
    unsigned out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return fail(ErrorCode::config, "cron field {}: '{}' is not a number", field, text);
    return out;
}

// One cron field into `bits` (positions lo..hi); returns whether it restricts anything ('*'
// alone does not), which the day-of-month / day-of-week rule needs.
template <std::size_t N>
Result<bool> parse_field(std::string_view text, unsigned lo, unsigned hi, std::string_view name,
                         std::bitset<N>& bits) {
    bool restricted = false;
    for (const auto item : split(text, ',')) {
        auto parts = split(item, '/');
        if (parts.size() > 2) return fail(ErrorCode::config, "cron field {}: '{}'", name, item);
        unsigned step = 1;
        if (parts.size() == 2) {
            step = LB_TRY(number(parts[1], name));
            if (step == 0) return fail(ErrorCode::config, "cron field {}: step 0", name);
        }
        unsigned first = lo;
        unsigned last = hi;
        if (parts[0] == "*") {
            restricted = restricted || step != 1;
        } else {
            restricted = true;
            const auto range = split(parts[0], '-');
            if (range.size() > 2) return fail(ErrorCode::config, "cron field {}: '{}'", name, item);
            first = LB_TRY(number(range[0], name));
            last = range.size() == 2 ? LB_TRY(number(range[1], name))
                                     : (parts.size() == 2 ? hi : first);
            if (first < lo || last > hi || first > last) {
                return fail(ErrorCode::config, "cron field {}: '{}' is outside {}-{}", name, item,
                            lo, hi);
            }
        }
        for (unsigned v = first; v <= last; v += step)
            bits.set(v);
    }
    return restricted;
}

// Days since 1970-01-01 <-> civil date (Howard Hinnant's algorithms, proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

Civil civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view text) {
    Schedule s;
    s.m_text = std::string(text);
    if (text.starts_with("every ")) {
        auto d = parse_duration(text.substr(6));
        if (!d) return fail(ErrorCode::config, "schedule '{}': {}", text, d.error().message);
        if (d->count() <= 0)
            return fail(ErrorCode::config, "schedule '{}': the cadence must be at least 1s", text);
        s.m_interval = *d;
        return s;
    }
    std::vector<std::string_view> fields;
    for (const auto f : split(text, ' '))
        if (!f.empty()) fields.push_back(f);
    if (fields.size() != 5) {
        return fail(ErrorCode::config,
                    "schedule '{}': expected \"every DURATION\" or 5 cron fields (minute hour "
                    "day-of-month month day-of-week, in UTC)",
                    text);
    }
    auto wrap = [&](Result<bool> r) -> Result<bool> {
        if (!r) return fail(ErrorCode::config, "schedule '{}': {}", text, r.error().message);
        return r;
    };
    LB_CHECK(wrap(parse_field(fields[0], 0, 59, "minute", s.m_minutes)));
    LB_CHECK(wrap(parse_field(fields[1], 0, 23, "hour", s.m_hours)));
    s.m_days_restricted = LB_TRY(wrap(parse_field(fields[2], 1, 31, "day-of-month", s.m_days)));
    LB_CHECK(wrap(parse_field(fields[3], 1, 12, "month", s.m_months)));
    std::bitset<8> weekdays;
    s.m_weekdays_restricted = LB_TRY(wrap(parse_field(fields[4], 0, 7, "day-of-week", weekdays)));
    for (unsigned d = 0; d < 7; ++d)
        s.m_weekdays[d] = weekdays[d] || (d == 0 && weekdays[7]);
    return s;
}

bool Schedule::matches_day(int year, unsigned month, unsigned day) const {
    if (!m_months[month]) return false;
    const std::int64_t days = days_from_civil(year, month, day);
    const auto weekday = static_cast<unsigned>((days % 7 + 11) % 7);  // 1970-01-01 was Thursday
    const bool dom = m_days[day];
    const bool dow = m_weekdays[weekday];
    if (m_days_restricted && m_weekdays_restricted) return dom || dow;
    return dom && dow;
}

std::optional<Timestamp> Schedule::next_after(Timestamp after) const {
    if (is_interval()) {
        const std::int64_t step = m_interval.count() * 1000000;
        if (after.micros > k_latest_time.micros - step) return std::nullopt;
        return Timestamp{after.micros + step};
    }
    // The next whole minute after `after`, then day by day (at most ~28 years: a 29 February
    // that is also a given weekday repeats within that), hour and minute within a matching day.
    const std::int64_t first_minute = floor_div(after.micros, k_micros_per_minute) + 1;
    std::int64_t day = floor_div(first_minute * k_micros_per_minute, k_micros_per_day);
    auto minute_of_day = static_cast<unsigned>(first_minute - day * 1440);
    for (int i = 0; i < 366 * 28; ++i, ++day, minute_of_day = 0) {
        const Civil c = civil_from_days(day);
        if (c.year > 9999) return std::nullopt;
        if (!matches_day(static_cast<int>(c.year), c.month, c.day)) continue;
        for (unsigned m = minute_of_day; m < 1440; ++m) {
            if (m_hours[m / 60] && m_minutes[m % 60])
                return Timestamp{(day * 1440 + m) * k_micros_per_minute};
        }
    }
    return std::nullopt;
}

std::optional<Timestamp> Schedule::previous_at_or_before(Timestamp at) const {
    if (is_interval()) return std::nullopt;
    const std::int64_t last_minute = floor_div(at.micros, k_micros_per_minute);
    std::int64_t day = floor_div(last_minute * k_micros_per_minute, k_micros_per_day);
    int minute_of_day = static_cast<int>(last_minute - day * 1440);
    for (int i = 0; i < 367; ++i, --day, minute_of_day = 1439) {
        const Civil c = civil_from_days(day);
        if (!matches_day(static_cast<int>(c.year), c.month, c.day)) continue;
        for (int m = minute_of_day; m >= 0; --m) {
            if (m_hours[m / 60] && m_minutes[m % 60])
                return Timestamp{(day * 1440 + m) * k_micros_per_minute};
        }
    }
    return std::nullopt;
}

Result<DailyWindow> DailyWindow::parse(std::string_view text) {
    auto minute_of = [&](std::string_view hhmm) -> Result<int> {
        unsigned hours = 0;
        unsigned minutes = 0;
        const bool shaped = hhmm.size() == 5 && hhmm[2] == ':';
        if (!shaped ||
            std::from_chars(hhmm.data(), hhmm.data() + 2, hours).ptr != hhmm.data() + 2 ||
            std::from_chars(hhmm.data() + 3, hhmm.data() + 5, minutes).ptr != hhmm.data() + 5 ||
            hours > 23 || minutes > 59) {
            return fail(ErrorCode::config,
                        "backup window '{}' must be HH:MM-HH:MM in UTC (e.g. \"04:00-05:00\")",
                        text);
        }
        return static_cast<int>(hours * 60 + minutes);
    };
    const auto parts = split(text, '-');
    if (parts.size() != 2) {
        return fail(ErrorCode::config,
                    "backup window '{}' must be HH:MM-HH:MM in UTC (e.g. \"04:00-05:00\")", text);
    }
    DailyWindow out;
    out.m_text = std::string(text);
    out.m_start_minute = LB_TRY(minute_of(parts[0]));
    out.m_end_minute = LB_TRY(minute_of(parts[1]));
    if (out.m_start_minute == out.m_end_minute)
        return fail(ErrorCode::config, "backup window '{}' is empty", text);
    return out;
}

bool DailyWindow::contains(Timestamp at) const {
    const std::int64_t into_day =
        ((at.micros % k_micros_per_day) + k_micros_per_day) % k_micros_per_day;
    const int minute = static_cast<int>(into_day / k_micros_per_minute);
    if (m_start_minute < m_end_minute) return minute >= m_start_minute && minute < m_end_minute;
    return minute >= m_start_minute || minute < m_end_minute;  // wraps past midnight
}

}  // namespace lifeboat::agent
