#include "engine/catalog.hpp"

#include "engine/context.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"

namespace lifeboat::engine {

Result<Catalog> load_catalog(const repo::Repository& repo) {
    Catalog catalog;
    catalog.repository = repo.location();
    auto manifests = LB_TRY(repo::read_manifests(repo.storage()));
    catalog.backups = std::move(manifests.backups);
    catalog.damaged = std::move(manifests.damaged);
    catalog.window = LB_TRY(compute_window(repo.storage(), catalog.backups));
    add_branch_times(repo.storage(), catalog.window, catalog.backups);
    catalog.pins = LB_TRY(repo::read_pins(repo.storage()));
    for (const auto& object : LB_TRY(repo.storage().list("")))
        catalog.stored_bytes += object.size;
    for (const auto& m : catalog.backups)
        catalog.logical_bytes += m.stats.data_bytes;
    return catalog;
}

Status pin_backup(repo::Repository& repo, const std::string& backup_id,
                  std::optional<Timestamp> until, const OperationContext& ctx) {
    // Under a shared lock: an expire must not delete the backup between the check and the pin.
    const auto lock = LB_TRY(repo::RepositoryLock::shared(
        repo.storage(), "pin", std::chrono::seconds(3600), {}, lock_timing(ctx)));
    LB_CHECK(repo::read_manifest(repo.storage(), backup_id));
    return repo::write_pin(repo.storage(), {backup_id, until, ctx.now()});
}

Result<UnpinOutcome> unpin_backup(repo::Repository& repo, const std::string& backup_id,
                                  const OperationContext& ctx) {
    LB_CHECK(repo::read_manifest(repo.storage(), backup_id));
    const auto pins = LB_TRY(repo::read_pins(repo.storage()));
    const auto pin = pins.find(backup_id);
    if (pin == pins.end()) return UnpinOutcome::was_not_pinned;
    LB_CHECK(repo::remove_pin(repo.storage(), backup_id));
    // A pin whose end has passed no longer held the backup: removing it changes nothing.
    return pin->second.holds_at(ctx.now()) ? UnpinOutcome::unpinned : UnpinOutcome::was_not_pinned;
}

}  // namespace lifeboat::engine
