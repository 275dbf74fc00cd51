// The catalog: what `list` shows — every backup with its reach, and the restorable window.
#pragma once

#include <string>
#include <vector>

#include <map>
#include <optional>
#include "engine/window.hpp"

#include "repository/manifest.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

struct Catalog {
    std::string repository;
    std::vector<repo::Manifest> backups;  // oldest first; headers only (entries_read false)
    RestorableWindow window;              // window.backups[i] belongs to backups[i]
    std::map<std::string, repo::Pin> pins;
    // Manifests that failed their checks: left out of `backups` and the window, named instead.
    std::vector<repo::DamagedObject> damaged;
    std::uint64_t stored_bytes = 0;   // every object in the repository
    std::uint64_t logical_bytes = 0;  // data bytes of all backups together
    double savings_ratio() const {    // logical data per stored byte
        return stored_bytes ? static_cast<double>(logical_bytes) / stored_bytes : 0;
    }
};

Result<Catalog> load_catalog(const repo::Repository& repository);

// Pins a backup (replacing an earlier pin of it); ErrorCode::not_found for an unknown id. With
// LegalHold::on, first puts an object-lock legal hold on every object a restore of the backup
// reads (manifest, index objects, packs, WAL from its start to its stop segment, timeline
// histories): ErrorCode::usage when the storage has no object lock.
Status pin_backup(repo::Repository& repository, const std::string& backup_id,
                  std::optional<Timestamp> until, const OperationContext& ctx,
                  LegalHold legal_hold = LegalHold::off);
// The objects a restore of backup `backup_id` reads (storage keys), for legal holds.
Result<std::vector<std::string>> backup_objects(const repo::Repository& repository,
                                                const std::string& backup_id);
enum class UnpinOutcome { unpinned, was_not_pinned };
// Removes a backup's pin; was_not_pinned (not an error) when it had none, or one that has ended.
// A pin with a legal hold has its holds released first.
Result<UnpinOutcome> unpin_backup(repo::Repository& repository, const std::string& backup_id,
                                  const OperationContext& ctx);

}  // namespace lifeboat::engine
