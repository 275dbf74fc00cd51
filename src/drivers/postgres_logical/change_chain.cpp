#include "drivers/postgres_logical/change_chain.hpp"

#include <map>

#include "drivers/postgres_logical/change_log.hpp"

namespace lifeboat::postgres_logical {

ChangeChain change_chain(const std::vector<std::string>& names, std::uint64_t start) {
    // start -> (end, name), keeping the longest object for each start.
    std::map<std::uint64_t, std::pair<std::uint64_t, std::string>> by_start;
    for (const auto& name : names) {
        const auto span = parse_change_log_object_name(name);
        if (!span || span->end == span->start) continue;
        auto& slot = by_start[span->start];
        if (slot.second.empty() || span->end > slot.first) slot = {span->end, name};
    }
    ChangeChain chain;
    chain.end = start;
    auto it = by_start.find(start);
    if (it == by_start.end()) {
        // An object that began before the consistent point and continues past it.
        for (auto& [from, to] : by_start) {
            if (from < start && to.first > start) it = by_start.find(from);
        }
    }
    while (it != by_start.end()) {
        chain.objects.push_back(it->second.second);
        chain.end = it->second.first;
        it = by_start.find(chain.end);
    }
    chain.gap = !by_start.empty() && by_start.rbegin()->first > chain.end;
    return chain;
}

}  // namespace lifeboat::postgres_logical
