// repair: makes damage local for good. Moves every object that fails its checks (index objects,
// manifests, WAL objects whose envelope is damaged, history or backup history files PostgreSQL
// could not use, segments of another cluster) aside to `damaged/<key>` — never deleting them —
// then rebuilds the index from the packs themselves (their footers list their blocks), so that
// every block of an undamaged pack is found again. Packs that cannot be read are left in place and
// named: `verify` says which backups they affect.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "repository/lock.hpp"
#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

enum class RepairMode { apply, dry_run };

struct RepairOptions {
    RepairMode mode = RepairMode::apply;
    std::chrono::seconds lock_wait{3600};
    repo::LockWaitFn on_wait;
};

struct MovedAside {
    std::string key;
    std::string reason;
    std::string moved_to;  // empty in a dry run
};

struct RepairOutcome {
    bool dry_run = false;
    std::vector<MovedAside> moved;
    std::size_t packs_indexed = 0;  // packs no sound index object named, now indexed
    std::string new_index;          // its id; empty when nothing needed indexing (or dry run)
    std::vector<repo::DamagedObject> unreadable_packs;  // left in place
    std::vector<repo::DamagedObject> suspect_wal;       // questionable but maybe needed: left
    bool clean() const { return unreadable_packs.empty() && suspect_wal.empty(); }
};

// Holds the exclusive lock (like expire) unless a dry run, which changes nothing.
Result<RepairOutcome> run_repair(repo::Repository& repository, const RepairOptions& options,
                                 const OperationContext& ctx);

}  // namespace lifeboat::engine
