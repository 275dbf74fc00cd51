#include "util/time.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace lifeboat {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

class Cursor {
  public:
    explicit Cursor(std::string_view text) : m_text(text) {}
    bool done() const { return m_pos >= m_text.size(); }
    char peek() const { return done() ? '\0' : m_text[m_pos]; }
    bool accept(char c) {
        if (peek() != c) return false;
        ++m_pos;
        return true;
    }
    // Reads exactly `width` digits.
    bool digits(int width, int& out) {
        out = 0;
        for (int i = 0; i < width; ++i) {
            char c = peek();
            if (c < '0' || c > '9') return false;
            out = out * 10 + (c - '0');
            ++m_pos;
        }
        return true;
    }

  private:
    std::string_view m_text;
    std::size_t m_pos = 0;
};

}  // namespace

Result<Timestamp> parse_iso8601(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return fail(ErrorCode::usage,
                    "malformed time '{}': {} (expected ISO 8601 with a zone, e.g. "
                    "2026-11-26T08:00:00Z or 2026-11-26 09:00:00+01:00)",
                    text, why);
    };
    Cursor c(text);
    int year, month, day, hour, minute, second = 0;
    if (!c.digits(4, year) || !c.accept('-') || !c.digits(2, month) || !c.accept('-') ||
        !c.digits(2, day)) {
        return bad("date must be YYYY-MM-DD");
    }
    if (!c.accept('T') && !c.accept(' ') && !c.accept('t')) return bad("missing time of day");
    if (!c.digits(2, hour) || !c.accept(':') || !c.digits(2, minute)) {
        return bad("time of day must be HH:MM[:SS[.ffffff]]");
    }
    std::int64_t micros = 0;
    if (c.accept(':')) {
        if (!c.digits(2, second)) return bad("seconds must be two digits");
        if (c.accept('.') || c.accept(',')) {
            int scale = 100000;
            int digit;
            bool any = false;
            while (c.digits(1, digit)) {
                any = true;
                micros += digit * scale;
                scale /= 10;
            }
            if (!any) return bad("empty fraction of a second");
        }
    }
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
        return bad("field out of range");
    }
    static constexpr int k_days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > k_days_in_month[month - 1] + (month == 2 && leap ? 1 : 0)) {
        return bad("no such day in that month");
    }
    // RFC 3339 zones are at most 14 hours from UTC (Pacific/Kiritimati, +14:00).
    static constexpr int k_max_offset_minutes = 14 * 60;
    int offset_minutes = 0;
    if (c.accept('Z') || c.accept('z')) {
        offset_minutes = 0;
    } else if (c.peek() == '+' || c.peek() == '-') {
        const int sign = c.peek() == '-' ? -1 : 1;
        c.accept(c.peek());
        int oh, om = 0;
        if (!c.digits(2, oh)) return bad("zone offset must be +HH[:MM]");
        if (c.accept(':')) {
            if (!c.digits(2, om)) return bad("zone offset must be +HH:MM");
        } else if (!c.done()) {
            if (!c.digits(2, om)) return bad("zone offset must be +HHMM");
        }
        if (om >= 60) return bad("zone offset minutes must be below 60");
        if (oh * 60 + om > k_max_offset_minutes) {
            return bad("zone offset must be between -14:00 and +14:00");
        }
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return bad("missing zone (append Z for UTC or an offset such as +01:00)");
    }
    if (!c.done()) return bad("unexpected trailing characters");
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds =
        days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60LL;
    const Timestamp out{seconds * 1000000 + micros};
    if (!in_time_range(out)) {
        return bad("outside the supported range 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z");
    }
    return out;
}

Result<Timestamp> parse_time_or_date(std::string_view text, WholeDay day) {
    // Exactly YYYY-MM-DD: anything longer is a time, and parse_iso8601 explains what is wrong.
    if (text.size() != 10) return parse_iso8601(text);
    const std::string midnight = std::string(text) + "T00:00:00Z";
    auto start = parse_iso8601(midnight);
    if (!start) {
        return fail(ErrorCode::usage,
                    "malformed date '{}': expected YYYY-MM-DD (a UTC day) or an ISO 8601 time "
                    "with a zone, e.g. 2026-11-26T08:00:00Z",
                    text);
    }
    if (day == WholeDay::start) return *start;
    const Timestamp next{start->micros + 86400LL * 1000000};
    if (!in_time_range(next)) {
        return fail(ErrorCode::usage,
                    "date '{}' ends outside the supported range (up to 9999-12-31T23:59:59Z)",
                    text);
    }
    return next;
}

bool in_time_range(Timestamp t) {
    return t >= k_earliest_time && t <= k_latest_time;
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return fail(ErrorCode::usage,
                    "malformed duration '{}': {} (examples: 90s, 30m, 36h, 7d, 2w)", text, why);
    };
    auto too_long = [&] {
        return fail(ErrorCode::usage,
                    "duration '{}' is too long: the longest accepted is {}d ({} years)", text,
                    k_longest_duration.count() / 86400, k_longest_duration.count() / 86400 / 365);
    };
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc::result_out_of_range) return too_long();
    if (ec != std::errc() || ptr == text.data()) return bad("it must start with a number");
    if (value < 0) return bad("it must not be negative");
    if (end - ptr != 1) return bad("it must end with one unit: s, m, h, d or w");
    std::int64_t unit = 0;
    switch (*ptr) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            return bad("it must end with one unit: s, m, h, d or w");
    }
    // Compared before multiplying: 200000000d must be refused, not wrapped around.
    if (value > k_longest_duration.count() / unit) return too_long();
    return std::chrono::seconds(value * unit);
}

Result<Timestamp> time_before(Timestamp t, std::chrono::seconds d, std::string_view what) {
    // Both operands are bounded (a storable time, a duration of at most 100 years), but the
    // check does not rely on it.
    const bool bounded = d.count() >= 0 && d.count() <= k_longest_duration.count();
    const std::int64_t micros = bounded ? d.count() * 1000000 : 0;
    if (!bounded || t.micros - k_earliest_time.micros < micros) {
        return fail(ErrorCode::usage, "{} reaches back before {}", what,
                    format_iso8601(k_earliest_time));
    }
    return Timestamp{t.micros - micros};
}

namespace {
std::tm to_tm(Timestamp t, std::int64_t& fraction) {
    std::int64_t secs = t.micros / 1000000;
    fraction = t.micros % 1000000;
    if (fraction < 0) {
        fraction += 1000000;
        secs -= 1;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return tm;
}
}  // namespace

std::string format_iso8601(Timestamp t) {
    std::int64_t fraction;
    std::tm tm = to_tm(t, fraction);
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (fraction != 0) out += fmt::format(".{:06}", fraction);
    return out + "Z";
}

std::string format_compact(Timestamp t) {
    std::int64_t fraction;
    std::tm tm = to_tm(t, fraction);
    return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

namespace {
class SystemClock final : public Clock {
  public:
    Timestamp now() const override {
        using namespace std::chrono;
        return Timestamp{
            duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()};
    }
};
}  // namespace

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

std::string format_seconds(double seconds) {
    return fmt::format("{:.3f} s", seconds);
}

}  // namespace lifeboat
