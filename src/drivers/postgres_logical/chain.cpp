#include "drivers/postgres_logical/chain.hpp"

#include <map>

namespace lifeboat::postgres_logical {

ChainRun follow_chain(const std::vector<std::string>& names, std::uint64_t from) {
    // start -> (end, name) of the object reaching furthest from that start.
    std::map<std::uint64_t, std::pair<std::uint64_t, std::string>> by_start;
    for (const auto& name : names) {
        const auto span = parse_change_log_object_name(name);
        if (!span || span->end == span->start) continue;  // an empty span continues nothing
        auto [it, inserted] = by_start.try_emplace(span->start, span->end, name);
        if (!inserted && span->end > it->second.first) it->second = {span->end, name};
    }
    ChainRun run;
    std::uint64_t at = from;
    auto next = by_start.find(at);
    if (next == by_start.end()) {
        // An object of an earlier stream that covers the point: its commits after `from`
        // continue the backup.
        for (const auto& [start, object] : by_start) {
            if (start >= from) break;
            if (object.first > from &&
                (next == by_start.end() || object.first > next->second.first))
                next = by_start.find(start);
        }
    }
    while (next != by_start.end()) {
        run.objects.push_back(next->second.second);
        at = next->second.first;
        next = by_start.find(at);
    }
    run.end = at;
    run.gap = by_start.upper_bound(at) != by_start.end();
    return run;
}

std::vector<std::string> objects_before(const std::vector<std::string>& names,
                                        std::uint64_t keep_from) {
    std::vector<std::string> out;
    for (const auto& name : names) {
        const auto span = parse_change_log_object_name(name);
        if (span && span->end <= keep_from) out.push_back(name);
    }
    return out;
}

}  // namespace lifeboat::postgres_logical
