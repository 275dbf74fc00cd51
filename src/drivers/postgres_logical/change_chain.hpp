// Which change log objects (change_log.hpp) continue a backup: the gap-free run of objects from
// the backup's consistent point, each starting where the previous one ended. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lifeboat::postgres_logical {

struct ChangeChain {
    std::vector<std::string> objects;  // in stream order
    std::uint64_t end = 0;             // the last object's end (the start when empty)
    bool gap = false;                  // objects starting later than `end` exist
};

// The run among `names` (any log area names; others are ignored) starting at `start`: the
// first object is the one starting at `start` (or, failing that, covering it); each next one
// starts at the previous end. When several start at the same place, the longest is taken.
ChangeChain change_chain(const std::vector<std::string>& names, std::uint64_t start);

}  // namespace lifeboat::postgres_logical
