// Fuzz target: time and duration parsing (util/time.hpp). Accepted times are in range and
// survive a format/parse round trip; accepted durations are within k_longest_duration.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/time.hpp"

using namespace lifeboat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto t = parse_iso8601(text)) {
        if (!in_time_range(*t)) __builtin_trap();
        if (parse_iso8601(format_iso8601(*t)) != *t) __builtin_trap();
        (void)format_compact(*t);
    }
    if (const auto d = parse_duration(text)) {
        if (d->count() < 0 || *d > k_longest_duration) __builtin_trap();
        (void)time_before(k_latest_time, *d, "fuzz");
        (void)time_before(Timestamp{1}, *d, "fuzz");
    }
    return 0;
}
