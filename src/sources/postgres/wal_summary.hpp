// WAL summaries: which relation blocks the records of a stretch of WAL touch (the idea of
// PostgreSQL 17's WAL summaries, written for PostgreSQL 15's WAL format), so that an incremental
// backup reads only the blocks changed since the previous one.
//
// Every block reference of a record (XLogRecordBlockHeader: relation, fork, block number, with
// BKPBLOCK_SAME_REL) is recorded. What changes a relation without a block reference is recorded
// conservatively:
//  - smgr create and truncate: the whole relation (every fork) changed;
//  - database create or drop: every relation of that database changed;
//  - a commit or abort dropping relations: each of them changed;
//  - a tablespace record, or any other record flagged XLR_SPECIAL_REL_UPDATE: everything changed.
// A summary that could not read all of its WAL (an invalid record before the end of the segment,
// the head of the record continuing into the next segment too short to hold its block headers)
// is marked incomplete, and callers must not trust it to say what did not change.
//
// The encoded form (the payload of the repository's WAL summary object, docs/repository-format.md,
// "WAL summaries") is little-endian:
//   u32 timeline, u64 start LSN, u64 end LSN, u8 complete (0/1), u8 whole_cluster (0/1),
//   u32 database count, then each database oid (u32, ascending),
//   u32 relation count, then per relation (ascending by tablespace, database, relation, fork):
//     u32 tablespace, u32 database, u32 relfilenode, u8 fork (0 main, 1 fsm, 2 vm, 3 init,
//     255 every fork: the whole relation changed), u32 block count, u32 blocks (ascending,
//     distinct; none when the fork is 255).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sources/postgres/wal.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres {

inline constexpr std::uint8_t k_every_fork = 255;
inline constexpr std::uint32_t k_default_tablespace_oid = 1663;
inline constexpr std::uint32_t k_global_tablespace_oid = 1664;

struct RelationFork {
    std::uint32_t tablespace = 0;
    std::uint32_t database = 0;
    std::uint32_t relation = 0;
    std::uint8_t fork = 0;
    auto operator<=>(const RelationFork&) const = default;
};

struct WalSummary {
    std::uint32_t timeline = 0;
    Lsn start;              // the first position summarised
    Lsn end;                // where reading stopped
    bool complete = false;  // every record from start to end was read and summarised
    bool whole_cluster = false;
    std::set<std::uint32_t> whole_databases;
    // Blocks touched per relation fork (sorted, distinct); fork k_every_fork: the whole
    // relation changed (no blocks listed).
    std::map<RelationFork, std::vector<std::uint32_t>> blocks;
};

// Summarises the records starting in one segment (the whole file), up to `before` when given (a
// live segment read from pg_wal up to a backup's start). `complete` is true when the walk reached
// the end of the segment (or an XLOG_SWITCH, or `before`) and every record was understood. The
// record continuing into the next segment often has its block headers cut by the segment's end:
// `next_segment_head` (the next segment's first whole pages, k_next_segment_head bytes are ample)
// completes them. ErrorCode::corrupt when the bytes are not a PostgreSQL 15 segment.
Result<WalSummary> summarize_wal_segment(std::string_view segment_bytes, std::uint32_t timeline,
                                         std::optional<Lsn> before,
                                         std::string_view next_segment_head = {});

// How much of the next segment summarize_wal_segment may need: block headers of one record are
// at most about 1 KiB, and this leaves room for page headers and alignment.
inline constexpr std::size_t k_next_segment_head = 64 * 1024;

// Adds `more` to `into` (complete only if both are).
void merge_wal_summary(WalSummary& into, const WalSummary& more);

// Whether the relation (every fork) or its database, or the cluster, was marked as a whole.
bool whole_relation_changed(const WalSummary& summary, const RelationFork& relation);

std::string encode_wal_summary(const WalSummary& summary);
// Inverse of encode_wal_summary; ErrorCode::corrupt (naming `key`) for anything else: counts
// beyond the bytes, unsorted or repeated entries, flags other than 0/1, trailing bytes.
Result<WalSummary> parse_wal_summary(std::string_view payload, std::string_view key);

// The relation fork a relation data file belongs to ("base/5/16384.2" -> 1663/5/16384 fork 0),
// with its segment number; nullopt for anything else.
struct RelationFileKey {
    RelationFork fork;
    std::uint32_t segment = 0;
};
std::optional<RelationFileKey> relation_file_key(std::string_view relative_path);

}  // namespace lifeboat::postgres
