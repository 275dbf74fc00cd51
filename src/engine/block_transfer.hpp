// Block transfer: moves stored blocks into new packs, as stored (compressed, never re-encoded),
// checking each against its id before it is written so that damage never spreads. Used by `copy`
// (between repositories) and by `expire` when it rewrites mostly-garbage packs (within one).
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/progress.hpp"
#include "repository/index.hpp"
#include "repository/pack.hpp"
#include "repository/repository.hpp"

namespace lifeboat::engine {

struct BlockToMove {
    repo::BlockId id;
    repo::BlockPlacement placement;
};

struct TransferOutcome {
    std::vector<repo::PackSummary> packs;  // published in `to`, not yet named by any index
    std::uint64_t blocks = 0;
    std::uint64_t bytes = 0;          // stored bytes moved
    std::uint64_t requests = 0;       // ranged reads of `from`'s packs
    std::uint64_t bytes_fetched = 0;  // by them, gaps included
    unsigned io_depth = 0;            // used
};

// For a destination whose block ids are keyed differently (another key, or one side unencrypted):
// each block gets the destination's id, computed from its plaintext; blocks the destination already
// holds under that id are not written again.
struct BlockRekey {
    const repo::BlockHasher& hasher;  // the destination's
    const repo::BlockIndex& present;  // what the destination already holds
    std::unordered_map<repo::BlockId, repo::BlockId, repo::BlockIdHash> ids;  // filled: old -> new
    std::uint64_t already_present = 0;                                        // filled
};

// `by_pack`: source pack id -> blocks to take from it. Neighbouring blocks are fetched together
// (engine/read_plan.hpp), `io_depth` reads in flight (0: the storage's default), decoded and
// written by `jobs` workers (0: one per core). `from` and `to` may be the same repository. The
// caller writes the index naming the new packs.
Result<TransferOutcome> transfer_blocks(
    const repo::Repository& from, repo::Repository& to,
    const std::map<std::string, std::vector<BlockToMove>>& by_pack, unsigned jobs,
    unsigned io_depth, const ProgressFn& progress, const std::string& phase,
    BlockRekey* rekey = nullptr, const KeepGoingFn& keep_going = {});

}  // namespace lifeboat::engine
