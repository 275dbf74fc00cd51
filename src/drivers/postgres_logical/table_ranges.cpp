#include "drivers/postgres_logical/table_ranges.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace lifeboat::postgres_logical {

std::vector<BlockRange> plan_block_ranges(std::uint64_t relation_bytes, std::uint64_t block_bytes,
                                          std::uint64_t split_bytes) {
    if (split_bytes == 0 || block_bytes == 0 || relation_bytes <= split_bytes) return {{}};
    const std::uint64_t blocks = (relation_bytes + block_bytes - 1) / block_bytes;
    const std::uint64_t wanted = (relation_bytes + split_bytes - 1) / split_bytes;
    // Never more ranges than blocks: every range but the last holds at least one block.
    const std::uint64_t count =
        std::min<std::uint64_t>({wanted, blocks, static_cast<std::uint64_t>(k_max_table_ranges)});
    if (count <= 1) return {{}};
    std::vector<BlockRange> out;
    out.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        BlockRange range;
        range.first = static_cast<std::uint32_t>(blocks * i / count);
        if (i + 1 < count) range.end = static_cast<std::uint32_t>(blocks * (i + 1) / count);
        out.push_back(range);
    }
    return out;
}

std::string ctid_condition(const BlockRange& range) {
    std::string out;
    if (range.first > 0) out = fmt::format("ctid >= '({},0)'", range.first);
    if (range.end) {
        if (!out.empty()) out += " AND ";
        out += fmt::format("ctid < '({},0)'", *range.end);
    }
    return out;
}

}  // namespace lifeboat::postgres_logical
