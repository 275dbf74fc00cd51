#include "engine/expire.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "engine/block_transfer.hpp"
#include "engine/context.hpp"
#include "engine/window.hpp"
#include "repository/block_id_set.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_summary_store.hpp"

namespace lifeboat::engine {

namespace {

// How old an unfinished upload must be before expire aborts it as abandoned.
constexpr std::chrono::seconds k_stale_upload_age{24 * 3600};

struct WalPlan {
    std::vector<std::string> names;
    std::uint64_t bytes = 0;
};

// The log no retained backup and no moment of the recovery window needs (LogArchive::removable):
// continuous recovery is kept from the oldest backup the window rule keeps (or, without a window
// rule, from the newest retained backup, so that `restore --to latest` keeps working).
Result<WalPlan> plan_wal(const Storage& storage, const std::vector<repo::Manifest>& all,
                         const std::vector<RetentionDecision>& decisions) {
    WalPlan plan;
    std::vector<const repo::Manifest*> kept;
    const repo::Manifest* continuous_from = nullptr;
    const repo::Manifest* newest = nullptr;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (!decisions[i].keep) continue;
        kept.push_back(&all[i]);
        const bool in_window =
            std::any_of(decisions[i].reasons.begin(), decisions[i].reasons.end(),
                        [](const std::string& r) { return r.rfind("window", 0) == 0; });
        if (in_window && (!continuous_from || all[i].start_time < continuous_from->start_time))
            continuous_from = &all[i];
        if (!newest || newest->stop_time < all[i].stop_time) newest = &all[i];
    }
    if (kept.empty()) return plan;
    if (!continuous_from) continuous_from = newest;
    const source::LogArchive* archive = LB_TRY(log_archive_of(all));
    std::map<std::string, std::uint64_t> sizes;
    std::vector<std::string> names;
    for (const auto& object : LB_TRY(storage.list("wal"))) {
        names.push_back(repo::wal_name_of_key(object.key));
        sizes[names.back()] = object.size;
    }
    plan.names = LB_TRY(archive->removable(names, kept, *continuous_from));
    for (const auto& name : plan.names)
        plan.bytes += sizes[name];
    std::sort(plan.names.begin(), plan.names.end());
    return plan;
}

struct PackPlan {
    std::map<std::string, repo::PackSummary> keep;              // survive as they are
    std::vector<std::pair<std::string, std::uint64_t>> remove;  // id, size: garbage or repacked
    std::map<std::string, std::vector<BlockToMove>> move;       // live blocks of repacked packs
    std::vector<std::string> old_indexes;
    bool unindexed_kept = false;  // a surviving pack no index names yet
    std::vector<std::string> warnings;
    std::size_t deleted = 0, repacked = 0;
    std::uint64_t live_bytes_moved = 0;
    bool changes() const { return !remove.empty() || unindexed_kept; }
};

// Which packs hold blocks the retained backups reference, and how much of each is live.
// The referenced set stays within `options.block_set_memory` (block_id_set.hpp).
Result<PackPlan> plan_packs(const Storage& storage,
                            const std::vector<const repo::Manifest*>& retained, double repack_below,
                            const ExpireOptions& options) {
    const bool dry_run = options.dry_run;
    repo::BlockIdSet referenced(options.block_set_memory, options.scratch_dir.empty()
                                                              ? fs::temp_directory_path()
                                                              : options.scratch_dir);
    for (const auto* m : retained) {
        for (const auto& e : m->entries) {
            for (const auto& id : e.blocks)
                LB_CHECK(referenced.add(id));
        }
    }
    LB_CHECK(referenced.seal());
    // The index decides which copy of a block counts; packs no index names (from an interrupted
    // backup, copy or repack) come last, so an indexed copy wins.
    // A damaged index object is left out: its packs then count as packs no index names, whose
    // own footers say what they hold (read below; a dry run leaves them out and so keeps them).
    std::vector<repo::PackSummary> indexed;
    repo::BlockIndex index =
        LB_TRY(repo::load_block_index(storage, repo::OnDamagedIndex::skip, &indexed));
    std::map<std::string, repo::PackSummary> packs;
    std::set<std::string> unindexed;
    {
        for (auto& pack : indexed)
            packs.try_emplace(pack.id, std::move(pack));
        // A dry run holds no lock: packs no index names may belong to a running backup, so it
        // leaves them out rather than count them as garbage.
        repo::AdoptedPacks adopted;
        if (!dry_run) adopted = LB_TRY(repo::adopt_unindexed_packs(storage, index));
        if (!adopted.warnings.empty()) {
            return fail(ErrorCode::corrupt, "{}; run `lifeboat verify` before expiring",
                        adopted.warnings.front());
        }
        for (auto& pack : adopted.packs) {
            unindexed.insert(pack.id);
            packs.try_emplace(pack.id, std::move(pack));
        }
    }
    PackPlan plan;
    plan.old_indexes = index.loaded_from;
    for (const auto& skipped : index.skipped) {
        plan.warnings.push_back(
            fmt::format("damaged {} ({}) was left out and its packs judged by their footers; "
                        "`lifeboat repair` moves it aside",
                        skipped.key, skipped.reason));
    }
    for (auto& [id, pack] : packs) {
        std::vector<BlockToMove> live;
        std::uint64_t live_bytes = 0, blob_bytes = 0;
        for (const auto& e : pack.entries) {
            blob_bytes += e.placement.stored_length;
            if (!LB_TRY(referenced.contains(e.id))) continue;
            const auto chosen = index.find(e.id);
            if (!chosen || *chosen->pack_id != id || chosen->placement.offset != e.placement.offset)
                continue;  // another copy is the one in use
            live.push_back({e.id, e.placement});
            live_bytes += e.placement.stored_length;
        }
        if (live.empty()) {
            plan.remove.emplace_back(id, pack.size);
            ++plan.deleted;
        } else if (static_cast<double>(live_bytes) <
                   repack_below * static_cast<double>(blob_bytes)) {
            plan.remove.emplace_back(id, pack.size);
            plan.live_bytes_moved += live_bytes;
            plan.move.emplace(id, std::move(live));
            ++plan.repacked;
        } else {
            if (unindexed.count(id)) plan.unindexed_kept = true;
            plan.keep.emplace(id, std::move(pack));
        }
    }
    return plan;
}

// Removal in a repository whose objects may be under object-lock retention: what the store still
// retains is left (never asked to delete) and counted for the report.
class RetentionGuard {
  public:
    RetentionGuard(const repo::Repository& repository, Timestamp now)
        : m_lock(repository.config().object_lock), m_now(now) {}

    bool active() const { return m_lock.has_value(); }

    // When the retention of `key` ends, if it has not yet; nullopt when it may be deleted.
    Result<std::optional<Timestamp>> retained_until(const Storage& storage,
                                                    const std::string& key) const {
        if (!m_lock) return std::optional<Timestamp>();
        auto info = storage.stat(key);
        if (!info && info.error().code == ErrorCode::not_found) return std::optional<Timestamp>();
        if (!info) return std::unexpected(info.error());
        const Timestamp until{info->modified.micros +
                              std::chrono::microseconds(m_lock->period()).count()};
        if (until.micros <= m_now.micros) return std::optional<Timestamp>();
        return std::optional<Timestamp>(until);
    }

    void keep(ExpireOutcome& outcome, std::optional<Timestamp> until) const {
        ++outcome.kept_locked;
        const Timestamp when = until.value_or(m_now);
        if (!outcome.kept_locked_until || when < *outcome.kept_locked_until)
            outcome.kept_locked_until = when;
    }

    // Removes `key` unless it is retained; false when it was left.
    Result<bool> remove(Storage& storage, const std::string& key, ExpireOutcome& outcome) const {
        if (const auto until = LB_TRY(retained_until(storage, key))) {
            keep(outcome, until);
            return false;
        }
        auto removed = storage.remove_if_exists(key);
        if (removed) return true;
        // Refused by the store although its retention has passed: a legal hold (a pin's), or a
        // retention set by hand. Left like the others; the date is unknown.
        if (removed.error().code == ErrorCode::read_only) {
            keep(outcome, std::nullopt);
            return false;
        }
        return std::unexpected(removed.error());
    }

  private:
    std::optional<repo::ObjectLockConfig> m_lock;
    Timestamp m_now;
};

}  // namespace

Timestamp ScaledClock::simulate(Timestamp real) const {
    const double offset = static_cast<double>(real.micros - real_anchor.micros) * scale;
    return Timestamp{sim_anchor.micros + static_cast<std::int64_t>(std::llround(offset))};
}

Result<ScaledClock> parse_scaled_clock(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::string real, sim;
    double scale = 0;
    if (!(in >> real >> sim >> scale) || scale <= 0) {
        return fail(ErrorCode::usage,
                    "malformed test clock '{}' (expected: REAL_ISO SIM_ISO SCALE)", text);
    }
    return ScaledClock{LB_TRY(parse_iso8601(real)), LB_TRY(parse_iso8601(sim)), scale};
}

Result<ExpireOutcome> run_expire(repo::Repository& repository, const ExpireOptions& options,
                                 const OperationContext& ctx) {
    if (options.policy.min_backups == 0) {
        return fail(ErrorCode::usage,
                    "the minimum number of backups must be at least 1: expiry "
                    "never removes a source's newest backup");
    }
    Storage& storage = repository.storage();
    std::optional<repo::RepositoryLock> lock;
    if (!options.dry_run) {
        lock.emplace(LB_TRY(repo::RepositoryLock::exclusive(storage, "expire", options.lock_wait,
                                                            options.on_wait, lock_timing(ctx))));
        LB_CHECK(repository.clean_stale_temporaries());
    }

    // Plan.
    ExpireOutcome outcome;
    outcome.dry_run = options.dry_run;
    outcome.policy = options.policy.describe();
    const Timestamp real_now = ctx.now();
    outcome.now = options.clock ? options.clock->simulate(real_now) : real_now;
    if (!options.dry_run) {
        // Multipart uploads crashed writers left behind: invisible, but kept (and billed) until
        // aborted. A day is long past any live writer's upload. A store that cannot list them
        // (s3rver: NotImplemented) costs nothing but this warning: expiry itself goes on.
        auto aborted = repository.abort_stale_uploads(outcome.now, k_stale_upload_age);
        if (!aborted) {
            outcome.warnings.push_back(
                fmt::format("abandoned uploads not cleaned: {}", aborted.error().message));
        } else {
            for (auto& line : *aborted)
                outcome.warnings.push_back(std::move(line));
        }
    }
    const auto pins = LB_TRY(repo::read_pins(storage));
    for (const auto& [id, pin] : pins)
        if (!pin.problem.empty()) outcome.warnings.push_back(pin.problem);
    std::vector<repo::Manifest> manifests;
    std::vector<RetentionCandidate> candidates;
    for (const auto& id : LB_TRY(repo::list_backup_ids(storage))) {
        auto read = repo::read_manifest(storage, id);
        if (!read && read.error().code == ErrorCode::corrupt) {
            // Its blocks, WAL and retention are unknown: deleting anything could destroy what it
            // needs (or the last good copy of what a repair would want).
            return fail(ErrorCode::corrupt,
                        "expire refused: {} is damaged ({}), so what it needs is unknown; "
                        "`lifeboat repair` moves it aside, then expire again",
                        repo::manifest_key(id),
                        repo::damaged_object(repo::manifest_key(id), read.error()).reason);
        }
        if (!read) return std::unexpected(read.error());
        const repo::Manifest& m = manifests.emplace_back(std::move(*read));
        const auto pin = pins.find(id);
        candidates.push_back({m.id, m.source.system_identifier,
                              options.clock ? options.clock->simulate(m.stop_time) : m.stop_time,
                              pin != pins.end() && pin->second.holds_at(real_now)});
    }
    auto decisions = apply_retention(candidates, outcome.now, options.policy);
    // A backup whose manifest the store retains stays a backup, and keeps what it needs. Judged
    // at the policy's "now" (the real time, except under a test clock, where the store's refusal
    // is what keeps the objects).
    const RetentionGuard guard(repository, outcome.now);
    for (std::size_t i = 0; guard.active() && i < manifests.size(); ++i) {
        if (decisions[i].keep) continue;
        const auto until =
            LB_TRY(guard.retained_until(storage, repo::manifest_key(manifests[i].id)));
        if (!until) continue;
        decisions[i].keep = true;
        decisions[i].reasons.push_back(
            fmt::format("under object lock until {}", format_iso8601(*until)));
        guard.keep(outcome, until);
    }
    // The manifests read above (under the exclusive lock, but for a dry run) are the ones to plan
    // with: nothing below reads them again.
    std::vector<const repo::Manifest*> retained;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        const repo::Manifest& m = manifests[i];
        outcome.backups.push_back({m.id, m.stop_time, decisions[i].keep, decisions[i].reasons});
        if (decisions[i].keep) {
            retained.push_back(&m);
        } else {
            outcome.expired.push_back(m.id);
        }
    }
    const WalPlan wal = LB_TRY(plan_wal(storage, manifests, decisions));
    outcome.wal_removed = wal.names;
    outcome.wal_bytes = wal.bytes;
    // Rewriting packs under object lock frees nothing until the old ones' retention ends, and
    // adds retained bytes: only wholly garbage packs go.
    const double repack_below = guard.active() ? 0.0 : options.repack_below;
    const PackPlan packs = LB_TRY(plan_packs(storage, retained, repack_below, options));
    outcome.packs_deleted = packs.deleted;
    outcome.packs_repacked = packs.repacked;
    for (const auto& [id, size] : packs.remove)
        outcome.pack_bytes_deleted += size;
    outcome.live_bytes_moved = packs.live_bytes_moved;
    outcome.warnings.insert(outcome.warnings.end(), packs.warnings.begin(), packs.warnings.end());
    if (options.dry_run) return outcome;
    LB_CHECK(ctx.stage("plan"));
    LB_CHECK(lock->confirm());

    // Backups, then pins that no longer protect anything.
    for (const auto& id : outcome.expired) {
        LB_CHECK(guard.remove(storage, repo::manifest_key(id), outcome));
        LB_CHECK(ctx.stage("backups"));
    }
    const std::set<std::string> kept_ids = [&] {
        std::set<std::string> ids;
        for (const auto* m : retained)
            ids.insert(m->id);
        return ids;
    }();
    for (const auto& [id, pin] : pins) {
        if (kept_ids.count(id)) continue;
        if (LB_TRY(guard.remove(storage, repo::pin_key(id), outcome))) ++outcome.pins_removed;
    }

    // WAL.
    LB_CHECK(lock->confirm());
    std::vector<std::string> wal_removed;
    for (const auto& name : wal.names) {
        if (LB_TRY(guard.remove(storage, repo::wal_key(name), outcome))) {
            wal_removed.push_back(name);
            // Its summary (segments only) goes with it. Advisory: one left behind by a failure
            // here is never read again (no backup's WAL reaches back to it).
            if (name.size() == 24)
                (void)guard.remove(storage, repo::wal_summary_key(name), outcome);
        }
        LB_CHECK(ctx.stage("wal"));
    }
    outcome.wal_removed = std::move(wal_removed);

    // Packs: move live blocks out of mostly-garbage packs, index the survivors, delete the rest.
    if (!packs.changes()) return outcome;
    LB_CHECK(lock->confirm());
    auto moved =
        LB_TRY(transfer_blocks(repository, repository, packs.move, options.jobs, 0, ctx.progress,
                               "repacking", nullptr, [&ctx] { return ctx.check(); }));
    LB_CHECK(ctx.stage("repack"));
    std::vector<repo::PackSummary> survivors;
    for (const auto& [id, pack] : packs.keep)
        survivors.push_back(pack);
    for (auto& pack : moved.packs)
        survivors.push_back(std::move(pack));
    std::string new_index;
    if (!survivors.empty()) new_index = LB_TRY(repo::write_index(storage, survivors));
    LB_CHECK(ctx.stage("index"));
    LB_CHECK(lock->confirm());
    for (const auto& id : packs.old_indexes) {
        if (id == new_index) continue;
        if (LB_TRY(guard.remove(storage, "index/" + id, outcome))) ++outcome.indexes_replaced;
    }
    for (const auto& [id, size] : packs.remove) {
        LB_CHECK(guard.remove(storage, repo::pack_key(id), outcome));
        LB_CHECK(ctx.stage("packs"));
    }
    (void)lock->release();  // the work is done; a lock left behind is stale once we exit
    return outcome;
}

}  // namespace lifeboat::engine
