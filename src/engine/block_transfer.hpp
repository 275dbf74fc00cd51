// Block transfer: moves stored blocks into new packs, as stored (compressed, never re-encoded),
// checking each against its id before it is written so that damage never spreads. Used by `copy`
// (between repositories) and by `expire` when it rewrites mostly-garbage packs (within one).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/progress.hpp"
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
    std::uint64_t bytes = 0;  // stored bytes moved
};

// `by_pack`: source pack id -> blocks to take from it. Neighbouring blocks are fetched with one
// ranged read each (object stores answer few large requests faster than many small ones).
// `from` and `to` may be the same repository. The caller writes the index naming the new packs.
Result<TransferOutcome> transfer_blocks(const repo::Repository& from, repo::Repository& to,
                                        const std::map<std::string, std::vector<BlockToMove>>& by_pack,
                                        unsigned jobs, const ProgressFn& progress,
                                        const std::string& phase);

}  // namespace lifeboat::engine
