// Timestamps: microseconds since the Unix epoch, UTC. PostgreSQL commit times have microsecond
// resolution, so this is the unit the whole program uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

struct Timestamp {
    std::int64_t micros = 0;  // since 1970-01-01T00:00:00Z
    auto operator<=>(const Timestamp&) const = default;
};

// Parses ISO 8601 with an explicit zone: "2026-11-26T08:00:00Z", "2026-11-26
// 08:00:00.123456+01:00", "2026-11-26T08:00:00-0500". A time without a zone is refused
// (ErrorCode::usage): a restore target must never depend on the machine's local zone.
Result<Timestamp> parse_iso8601(std::string_view text);

// "2026-11-26T08:00:00.123456Z" (fraction omitted when zero).
std::string format_iso8601(Timestamp t);

// Compact form used in backup ids: "20261126T080000Z".
std::string format_compact(Timestamp t);

// Microseconds between PostgreSQL's epoch (2000-01-01) and the Unix epoch.
inline constexpr std::int64_t k_postgres_epoch_offset_micros = 946684800LL * 1000000LL;

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
