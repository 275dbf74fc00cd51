// The index payload in the one layout write_index writes, read without a JSON parser: the
// restore, backup and expire of a large repository parse every index object, and the general
// JSON reader spent most of a restore's start on them. See docs/repository-format.md, "INDX".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "repository/pack.hpp"

namespace lifeboat::repo {

// Whether a block at `placement` lies inside a pack of `pack_size` bytes: at or after the
// header, ending at or before the footer's trailer (computed without wrapping).
bool lies_within_pack(const BlockPlacement& placement, std::uint64_t pack_size);

// The packs of `text` when it is exactly what write_index writes (no blanks, keys in its order,
// block ids and pack ids as 64 lower-case hex digits, numbers as unsigned decimals without
// leading zeros) and passes every check parse_index makes; nullopt otherwise, for any reason:
// the general reader then reads the text and words what is wrong with it. For text it accepts,
// the result equals the general reader's (tests and the index fuzz target compare the two).
std::optional<std::vector<PackSummary>> parse_index_as_written(std::string_view text);

}  // namespace lifeboat::repo
