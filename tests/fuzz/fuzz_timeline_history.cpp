// Fuzz target: timeline history files (sources/postgres/timeline_history.hpp). The first byte
// picks the timeline the file is for; what parses must answer every query consistently.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sources/postgres/timeline_history.hpp"

using namespace lifeboat::postgres;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint32_t timeline = 1u + data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    (void)timeline_of_history_file(text);
    const auto history = parse_timeline_history(timeline, text);
    if (!history) return 0;
    if (!history->contains(timeline)) __builtin_trap();
    std::uint32_t previous = 0;
    for (const TimelineSwitch& ancestor : history->ancestors) {
        if (ancestor.timeline <= previous || ancestor.timeline >= timeline) __builtin_trap();
        if (!history->contains(ancestor.timeline) || !history->end_of(ancestor.timeline))
            __builtin_trap();
        previous = ancestor.timeline;
    }
    (void)history->parent();
    (void)history->begin();
    if (timeline_of_history_file(history_file_name(timeline)) != timeline) __builtin_trap();
    return 0;
}
