// How a large table's rows are split for the base backup: block (ctid) ranges, each copied by
// its own COPY (SELECT * FROM t WHERE <condition>) TO STDOUT under the same exported snapshot,
// so that several connections read one table in parallel (PostgreSQL 14+ runs each as a TID
// range scan). Pure: sizes in, ranges and SQL conditions out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lifeboat::postgres_logical {

// The most ranges one table is split into, however large: a bound on entries and connections'
// work units, not on the rows.
inline constexpr std::size_t k_max_table_ranges = 1024;

// Blocks [first, end) of a table; no `end`: to the end of the table, whatever it holds then.
// The first range has first == 0 and takes no lower bound either.
struct BlockRange {
    std::uint32_t first = 0;
    std::optional<std::uint32_t> end;
    bool operator==(const BlockRange&) const = default;
};

// The ranges a table of `relation_bytes` (pg_relation_size) in blocks of `block_bytes` is
// copied in: one open range (the whole table) when `split_bytes` is 0 or the table is not
// larger than it; otherwise ceil(relation_bytes / split_bytes) ranges (at most
// k_max_table_ranges) of nearly equal block counts, consecutive, the first starting at block 0
// and the last open-ended, so that together they cover every row the snapshot sees even if the
// relation grew after it was measured.
std::vector<BlockRange> plan_block_ranges(std::uint64_t relation_bytes, std::uint64_t block_bytes,
                                          std::uint64_t split_bytes);

// The WHERE condition selecting a range's rows: "ctid >= '(a,0)' AND ctid < '(b,0)'", with the
// bound left out where the range has none; "" for the whole table.
std::string ctid_condition(const BlockRange& range);

}  // namespace lifeboat::postgres_logical
