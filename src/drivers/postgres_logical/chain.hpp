// The chains of logical log objects (change_log.hpp): which stored objects continue the stream
// from a position without a gap. Pure: names in, names out; log_archive.cpp and capture read
// the repository around it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/postgres_logical/change_log.hpp"

namespace lifeboat::postgres_logical {

struct ChainRun {
    std::vector<std::string> objects;  // in stream order
    std::uint64_t end = 0;             // where the run ends (its last object's <end>, or `from`)
    // Objects starting after `end` exist: the run ends at a hole, not at the stream's end.
    bool gap = false;
};

// Follows the objects among `names` (any names; only this kind's are looked at) from `from`:
// first an object starting at `from`, else one covering it (start < from < end), then each
// object starting where the previous one ended. Where two objects start at the same position
// the one reaching furthest is taken.
ChainRun follow_chain(const std::vector<std::string>& names, std::uint64_t from);

// The objects among `names` that end at or before `keep_from`: nothing from `keep_from` on
// needs them.
std::vector<std::string> objects_before(const std::vector<std::string>& names,
                                        std::uint64_t keep_from);

}  // namespace lifeboat::postgres_logical
