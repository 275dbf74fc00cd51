// Read planning: the blocks an operation needs, turned into few ranged reads of packs. An object
// store answers one 4 MiB request about as fast as one 256 KiB request (the round trip dominates),
// so restore, copy and expire read neighbouring blocks of a pack together, and read through a
// small gap rather than pay a second request for what follows it.
//
// Fetching: many requests in flight (the io depth, apart from the CPU workers), one decoding
// worker per core, and a byte budget that bounds the ranges held at once, so memory stays flat
// whatever the depth and the repository's size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/progress.hpp"
#include "repository/block.hpp"
#include "storage/storage.hpp"

namespace lifeboat {
class CancellationToken;
}

namespace lifeboat::engine {

struct ReadLimits {
    // A range never spans more than this (a block longer than it is read alone, whole).
    std::uint64_t max_range = 4ull * 1024 * 1024;
    // Unwanted bytes read through between two wanted blocks rather than starting a new request.
    std::uint64_t max_gap = 1024ull * 1024;
};

// One block an operation needs. `pack_id` points into the caller's index (it must outlive the
// plan); `tag` is the caller's own (for restore: where the block goes).
struct WantedBlock {
    const std::string* pack_id = nullptr;
    repo::BlockId id;
    repo::BlockPlacement placement;
    std::size_t tag = 0;
};

// One ranged read: bytes [offset, offset + length) of pack `pack_id`, holding
// plan.blocks[first, first + count), in offset order (a block wanted twice appears twice).
struct RangeRead {
    const std::string* pack_id = nullptr;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::size_t first = 0;
    std::size_t count = 0;
};

struct ReadPlan {
    std::vector<WantedBlock> blocks;  // sorted by pack id, then offset
    std::vector<RangeRead> ranges;    // in the same order
    std::uint64_t bytes() const;      // what the ranges fetch, gaps included
};

// Sorts `wanted` by pack and offset and merges neighbours into ranges within `limits`.
ReadPlan plan_reads(std::vector<WantedBlock> wanted, const ReadLimits& limits = {});

struct FetchOptions {
    unsigned io_depth = 4;  // ranged reads in flight (threads waiting on storage)
    unsigned workers = 1;   // ranges decoded at once (CPU); never fewer threads than this
    // Bytes of fetched ranges held at once, in flight or waiting for a worker; a range longer
    // than the budget still goes, alone.
    std::uint64_t memory_budget = 32ull * 1024 * 1024;
    KeepGoingFn keep_going;  // asked before each request
    const CancellationToken* cancellation = nullptr;
};

struct FetchStats {
    std::uint64_t requests = 0;
    std::uint64_t bytes = 0;  // fetched, gaps included
};

// Called once per range with its bytes (exactly range.length of them) and a worker index in
// [0, workers) for per-worker state; at most `workers` calls run at once.
using RangeHandler =
    std::function<Status(const RangeRead& range, std::string_view bytes, unsigned worker)>;

// Reads every range of `plan` from `storage` and hands it to `handle`. A missing pack, or a range
// that comes back shorter or longer than planned, fails with ErrorCode::corrupt naming the pack;
// any failure
// (read, handler, keep_going, cancellation) stops further requests and is returned, with the
// pack's id in its context.
Result<FetchStats> fetch_ranges(const Storage& storage, const ReadPlan& plan,
                                const FetchOptions& options, const RangeHandler& handle);

// The io depth to use: `requested` when given (non-zero), else what the storage declares.
unsigned io_depth_for(const Storage& storage, unsigned requested);

}  // namespace lifeboat::engine
