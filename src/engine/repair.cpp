#include "engine/repair.hpp"

#include "engine/context.hpp"
#include "engine/window.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "repository/pack.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::engine {

namespace {

// Which archived WAL objects may go: a damaged object is unusable whatever it held, and a history
// or backup history file that does not parse, or WAL of another cluster, can never be restored
// here (and would block the right file from being archived under its name). A segment whose pages
// do not match its name is only reported: it could be a legitimate segment whose timeline history
// is missing, and moving it would lose it for good.
Result<std::vector<repo::DamagedObject>> wal_to_move(const Storage& storage,
                                                     const OperationContext& ctx,
                                                     std::vector<repo::DamagedObject>& suspect) {
    std::vector<repo::DamagedObject> out;
    const auto expected = LB_TRY(repo::expected_system_identifier(storage));
    // The kind whose log this is: that of the readable manifests (damaged ones are repair's own
    // business, elsewhere).
    const auto manifests = LB_TRY(repo::read_manifests(storage));
    const source::LogArchive* archive = LB_TRY(log_archive_of(manifests.backups));
    const auto names = LB_TRY(repo::list_wal_names(storage));
    std::uint64_t done = 0;
    for (const auto& name : names) {
        LB_CHECK(ctx.check());
        ctx.report({"checking WAL", ++done, names.size()});
        const std::string key = repo::wal_key(name);
        auto content = repo::fetch_wal(storage, name);
        if (!content) {
            if (content.error().code != ErrorCode::corrupt) return std::unexpected(content.error());
            out.push_back(repo::damaged_object(key, content.error()));
            continue;
        }
        auto facts = archive->check_object(storage, name, *content);
        if (!facts) {
            (archive->is_descriptive(name) ? out : suspect)
                .push_back(repo::damaged_object(key, facts.error()));
            continue;
        }
        if (expected && facts->source_identity && *facts->source_identity != *expected) {
            out.push_back(
                {key, repo::another_cluster_error(*facts->source_identity, *expected).message});
        }
    }
    return out;
}

}  // namespace

Result<RepairOutcome> run_repair(repo::Repository& repository, const RepairOptions& options,
                                 const OperationContext& ctx) {
    Storage& storage = repository.storage();
    const bool dry_run = options.mode == RepairMode::dry_run;
    std::optional<repo::RepositoryLock> lock;
    if (!dry_run) {
        lock.emplace(LB_TRY(repo::RepositoryLock::exclusive(storage, "repair", options.lock_wait,
                                                            options.on_wait, lock_timing(ctx))));
        LB_CHECK(repository.clean_stale_temporaries());
    }
    RepairOutcome outcome;
    outcome.dry_run = dry_run;

    // What is damaged: index objects, manifests, WAL objects.
    std::vector<repo::DamagedObject> damaged;
    const repo::BlockIndex before =
        LB_TRY(repo::load_block_index(storage, repo::OnDamagedIndex::skip));
    for (const auto& skipped : before.skipped)
        damaged.push_back({skipped.key, skipped.reason});
    for (auto& d : LB_TRY(repo::read_manifests(storage)).damaged)
        damaged.push_back(std::move(d));
    // A damaged cluster identity blocks every wal-push; the next push or backup records it again
    // (from the newest manifest when there is one).
    if (auto identity = repo::read_cluster_identity(storage); !identity) {
        if (identity.error().code != ErrorCode::corrupt) return std::unexpected(identity.error());
        const std::string key(repo::k_cluster_identity_key);
        damaged.push_back(repo::damaged_object(key, identity.error()));
    }
    for (auto& d : LB_TRY(wal_to_move(storage, ctx, outcome.suspect_wal)))
        damaged.push_back(std::move(d));

    if (lock) LB_CHECK(lock->confirm());
    for (const auto& d : damaged) {
        std::string moved_to;
        if (!dry_run) moved_to = LB_TRY(repository.move_aside(d.key));
        outcome.moved.push_back({d.key, d.reason, moved_to});
    }

    // Rebuild: index every pack no sound index object names, from its own footer.
    std::vector<repo::PackSummary> found;
    const auto unindexed = LB_TRY(repo::find_unindexed_packs(storage, before));
    std::uint64_t done = 0;
    for (const auto& pack_id : unindexed) {
        LB_CHECK(ctx.check());
        ctx.report({"reading pack footers", ++done, unindexed.size()});
        auto summary = repo::read_pack_summary(storage, pack_id);
        if (!summary) {
            outcome.unreadable_packs.push_back(
                repo::damaged_object(repo::pack_key(pack_id), summary.error()));
            continue;
        }
        found.push_back(std::move(*summary));
    }
    outcome.packs_indexed = found.size();
    if (!dry_run && !found.empty()) {
        LB_CHECK(lock->confirm());
        outcome.new_index = LB_TRY(repo::write_index(storage, found));
    }
    if (lock) (void)lock->release();
    return outcome;
}

}  // namespace lifeboat::engine
