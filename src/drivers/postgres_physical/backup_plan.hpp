// The plan of a backup: which files to read (cut into chunks so two workers can share one large
// file), and which to take unchanged from the previous backup of the same cluster.
//
// A file is taken from the previous backup only when all of these hold (the rule pgBackRest
// documents, with the same safety margin for timestamps that can lie):
// - same path, same size and same modification time (seconds) as in the previous manifest;
// - that modification time is well before the previous backup began reading files (its
//   `files_from`, after pg_backup_start's checkpoint and a 100 ms pause; its start_time for older
//   manifests), so any later change must have moved the timestamp: 100 ms on file systems with
//   sub-second timestamps (a timestamp tick is a few ms), k_timestamp_margin_seconds on others;
// - every block the previous manifest lists for it is in the repository.
// BackupType::full reads everything.
//
// With a WAL summary of everything from the previous backup's start to this one's (`changed`),
// the main fork of each relation present in the previous backup that the rule above would read
// (all of them with `verify_share` 1) is planned block by block
// instead: a repository block none of whose pages the summary lists is taken from the previous
// backup (if the repository holds it), every other block is read, and so is everything past the
// previous size's last whole block. A relation the summary marks as a whole (created, truncated,
// dropped, its database created or dropped), a file that shrank, and every other file (forks
// fsm and vm, which change without WAL, non-relation files) keep the rule above. A share of the
// skipped blocks (`verify_share` of them rounded up, at most k_max_sampled_blocks unless 1),
// drawn uniformly from all of them, is planned as verify chunks: read again and compared with
// the previous backup's block ids. So below a share of 1 a block is skipped when either witness
// says it did not change (the file's timestamps, or the summary), and the sample is drawn where
// the summary alone says so.
#pragma once

#include <functional>

#include <optional>
#include <vector>

#include "repository/manifest.hpp"
#include "source/base_backup.hpp"
#include "sources/postgres/data_directory.hpp"
#include "sources/postgres/wal_summary.hpp"

namespace lifeboat::postgres_physical {

using source::BackupType;

inline constexpr std::int64_t k_timestamp_margin_seconds = 2;
inline constexpr std::int64_t k_subsecond_margin_micros = 100000;
inline constexpr std::uint64_t k_chunk_size = 64ull * 1024 * 1024;

enum class ChunkKind {
    read,    // read [begin, end) from the file
    reuse,   // take the previous backup's blocks for [begin, end) (no read)
    verify,  // read [begin, end) and check it against the previous backup's blocks
};

struct FileChunk {
    std::size_t entry = 0;  // index in DataDirectoryScan::entries
    std::uint64_t begin = 0;
    std::optional<std::uint64_t> end;  // nullopt: to the end of the file
    ChunkKind kind = ChunkKind::read;
    const repo::ManifestEntry* previous = nullptr;  // reuse and verify: the blocks to take
    bool scattered = false;  // part of a file read block by block (see reads_scattered)
    // A read range the plan skips blocks after (taken from the previous backup or sampled):
    // nothing past `end` is worth reading ahead.
    bool skip_follows = false;
};

// Reads below this size of a file planned block by block ask for no read-ahead (the kernel's
// would read pages the plan skips); ScatteredReadAhead asks for exactly their ranges instead.
inline constexpr std::uint64_t k_scattered_below = 4ull * 1024 * 1024;

// Whether the chunk is read, and read as a scattered range (see k_scattered_below).
inline bool reads_scattered(const FileChunk& chunk) {
    return chunk.kind != ChunkKind::reuse && chunk.scattered && chunk.end &&
           *chunk.end - chunk.begin < k_scattered_below;
}

struct BackupPlan {
    std::vector<FileChunk> chunks;  // largest files first; a file's chunks in order
    // For each scan entry: the previous backup's entry to reuse, or nullptr.
    std::vector<const repo::ManifestEntry*> reused;
    std::uint64_t bytes_to_read = 0;
    std::uint64_t bytes_reused = 0;
    std::size_t files_reused = 0;
    // Planned from the WAL summary:
    std::size_t summarised_files = 0;
    std::uint64_t skipped_blocks = 0;  // reuse and verify chunks' blocks
    std::uint64_t verify_blocks = 0;
};

struct SummaryPlan {
    const postgres::WalSummary* changed = nullptr;  // nullptr: timestamps only
    std::uint32_t page_size = 8192;
    double verify_share = 0.01;
    std::uint64_t seed = 0;  // of the sample of verified blocks
};

// `stored` says whether the repository holds a block (an entry is reused only when it holds all
// of its blocks).
BackupPlan plan_backup(const postgres::DataDirectoryScan& scan, const repo::Manifest* previous,
                       const std::function<bool(const repo::BlockId&)>& stored, BackupType type,
                       std::uint32_t block_size, const SummaryPlan& summary = {});

}  // namespace lifeboat::postgres_physical
