#include "engine/catalog.hpp"

#include <set>

#include "engine/context.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/manifest.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::engine {

Result<Catalog> load_catalog(const repo::Repository& repo) {
    Catalog catalog;
    catalog.repository = repo.location();
    // Headers only: nothing here looks at entries (most of every manifest's text).
    auto manifests = LB_TRY(repo::read_manifests(repo.storage(), repo::ManifestParts::header));
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

Result<std::vector<std::string>> backup_objects(const repo::Repository& repo,
                                                const std::string& backup_id) {
    const Storage& storage = repo.storage();
    const repo::Manifest m = LB_TRY(repo::read_manifest(storage, backup_id));
    std::vector<std::string> keys{repo::manifest_key(backup_id)};
    // Every index object: a restore loads them all to find its blocks.
    const repo::BlockIndex index = LB_TRY(repo::load_block_index(storage));
    for (const auto& id : index.loaded_from)
        keys.push_back("index/" + id);
    std::set<std::string> packs;
    for (const auto& entry : m.entries) {
        for (const auto& block : entry.blocks) {
            const auto where = index.find(block);
            if (!where) {
                return fail(ErrorCode::corrupt,
                            "backup {}: a block of {} is in no pack the index "
                            "names (`lifeboat verify` says more)",
                            backup_id, entry.path);
            }
            packs.insert(*where->pack_id);
        }
    }
    for (const auto& id : packs)
        keys.push_back(repo::pack_key(id));
    // Its WAL: the segments from its start to its stop (on every timeline up to its own, which
    // is where the names sort), and the timeline histories.
    for (const auto& name : LB_TRY(repo::list_wal_names(storage))) {
        const bool history = name.find(".history") != std::string::npos;
        const std::string segment = name.substr(0, 24);
        if (history || (!m.start_wal.empty() && segment >= m.start_wal.substr(0, 24) &&
                        segment <= m.stop_wal.substr(0, 24)))
            keys.push_back(repo::wal_key(name));
    }
    return keys;
}

namespace {
Status set_legal_holds(repo::Repository& repo, const std::string& backup_id, LegalHold hold) {
    ObjectLocking* locking = repo.storage().object_locking();
    if (locking == nullptr || !LB_TRY(locking->bucket_lock_enabled())) {
        return fail(ErrorCode::usage,
                    "repository {} has no object lock, so it cannot hold backup {} with a legal "
                    "hold: --legal-hold needs an S3 bucket created with object lock enabled (a "
                    "plain pin still keeps the backup from expire)",
                    repo.location(), backup_id);
    }
    for (const auto& key : LB_TRY(backup_objects(repo, backup_id))) {
        auto set = locking->set_legal_hold(key, hold);
        // A WAL file or pack another expire run removed after listing: nothing left to hold.
        if (!set && set.error().code != ErrorCode::not_found) return set;
    }
    return {};
}
}  // namespace

Status pin_backup(repo::Repository& repo, const std::string& backup_id,
                  std::optional<Timestamp> until, const OperationContext& ctx,
                  LegalHold legal_hold) {
    // Under a shared lock: an expire must not delete the backup between the check and the pin.
    const auto lock = LB_TRY(repo::RepositoryLock::shared(
        repo.storage(), "pin", std::chrono::seconds(3600), {}, lock_timing(ctx)));
    LB_CHECK(repo::read_manifest(repo.storage(), backup_id));
    if (legal_hold == LegalHold::on) LB_CHECK(set_legal_holds(repo, backup_id, LegalHold::on));
    repo::Pin pin{backup_id, until, ctx.now()};
    pin.legal_hold = legal_hold;
    return repo::write_pin(repo.storage(), pin);
}

Result<UnpinOutcome> unpin_backup(repo::Repository& repo, const std::string& backup_id,
                                  const OperationContext& ctx) {
    LB_CHECK(repo::read_manifest(repo.storage(), backup_id));
    const auto pins = LB_TRY(repo::read_pins(repo.storage()));
    const auto pin = pins.find(backup_id);
    if (pin == pins.end()) return UnpinOutcome::was_not_pinned;
    if (pin->second.legal_hold == LegalHold::on)
        LB_CHECK(set_legal_holds(repo, backup_id, LegalHold::off));
    LB_CHECK(repo::remove_pin(repo.storage(), backup_id));
    // A pin whose end has passed no longer held the backup: removing it changes nothing.
    return pin->second.holds_at(ctx.now()) ? UnpinOutcome::unpinned : UnpinOutcome::was_not_pinned;
}

}  // namespace lifeboat::engine
