// Timestamps: microseconds since the Unix epoch, UTC. PostgreSQL commit times have microsecond
// resolution, so this is the unit the whole program uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

struct Timestamp {
    std::int64_t micros = 0;  // since 1970-01-01T00:00:00Z
    auto operator<=>(const Timestamp&) const = default;
};

// The times the program accepts, stores and reads back: 1970-01-01T00:00:00Z up to
// 9999-12-31T23:59:59.999999Z (a four-digit year in UTC, which is how every time is stored).
inline constexpr Timestamp k_earliest_time{0};
inline constexpr Timestamp k_latest_time{253402300799999999LL};
bool in_time_range(Timestamp t);

// Parses ISO 8601 / RFC 3339 with an explicit zone: "2026-11-26T08:00:00Z", "2026-11-26
// 08:00:00.123456+01:00", "2026-11-26T08:00:00-0500". Refused with ErrorCode::usage: a time
// without a zone (a restore target must never depend on the machine's local zone), a zone offset
// outside -14:00..+14:00 or with minutes >= 60, and a time outside k_earliest_time..k_latest_time
// once normalised to UTC (nothing is stored that cannot be read back).
Result<Timestamp> parse_iso8601(std::string_view text);

// Which instant a bare date ("2026-12-31", a whole UTC day) stands for.
enum class WholeDay {
    start,  // 00:00:00Z of that day
    end,    // 00:00:00Z of the next day: "until 2026-12-31" holds through the 31st
};

// A bare date YYYY-MM-DD (a UTC day, read as `day`), or anything parse_iso8601 accepts. The same
// refusals (ErrorCode::usage) as parse_iso8601.
Result<Timestamp> parse_time_or_date(std::string_view text, WholeDay day);

// The longest duration any setting accepts: 36500 days (100 years).
inline constexpr std::chrono::seconds k_longest_duration{36500LL * 86400};

// "90s", "30m", "36h", "7d", "2w" -> seconds: a non-negative integer and one unit (s, m, h, d,
// w = 7 days). Refused with
// ErrorCode::usage: anything else, and anything longer than k_longest_duration (checked before
// multiplying, so no value can overflow).
Result<std::chrono::seconds> parse_duration(std::string_view text);

// `t - d`, refused (ErrorCode::usage) when the result falls before k_earliest_time; `what` names
// the value in the message ("--ago 30000d").
Result<Timestamp> time_before(Timestamp t, std::chrono::seconds d, std::string_view what);

// "2026-11-26T08:00:00.123456Z" (fraction omitted when zero).
std::string format_iso8601(Timestamp t);

// Compact form used in backup ids: "20261126T080000Z".
std::string format_compact(Timestamp t);

// Microseconds between PostgreSQL's epoch (2000-01-01) and the Unix epoch.
inline constexpr std::int64_t k_postgres_epoch_offset_micros = 946684800LL * 1000000LL;

// A PostgreSQL timestamp (microseconds since 2000-01-01, as WAL and the replication protocols
// carry it) as a Timestamp. Values read from damaged input may be anything: the result saturates
// at the int64 range instead of overflowing.
inline Timestamp from_postgres_micros(std::int64_t micros_since_2000) {
    std::int64_t unix_micros = 0;
    if (__builtin_add_overflow(micros_since_2000, k_postgres_epoch_offset_micros, &unix_micros))
        unix_micros = micros_since_2000 > 0 ? INT64_MAX : INT64_MIN;
    return Timestamp{unix_micros};
}

// The wall clock, passed in where tests need to control time.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual Timestamp now() const = 0;
};
const Clock& system_clock();

// Seconds with millisecond precision for human output, e.g. "1.234 s".
std::string format_seconds(double seconds);

}  // namespace lifeboat
