#include "engine/copy.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "engine/block_transfer.hpp"
#include "engine/context.hpp"
#include "engine/read_plan.hpp"
#include "engine/window.hpp"
#include "repository/index.hpp"
#include "repository/keys.hpp"
#include "repository/lock.hpp"
#include "repository/manifest.hpp"
#include "repository/object.hpp"
#include "repository/pack.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

// WAL objects copied at once: each may be a whole 16 MiB segment in memory.
constexpr unsigned k_wal_copies_in_flight = 4;

// The log a backup needs in the source: from its first object to the end of its gap-free run
// (LogArchive::objects_for), plus every object any restore may need (LogArchive::is_shared).
Result<std::set<std::string>> wal_needed(const repo::Repository& from,
                                         const std::vector<repo::Manifest>& manifests,
                                         bool everything) {
    std::set<std::string> names;
    const auto all = LB_TRY(repo::list_wal_names(from.storage()));
    if (everything) return std::set<std::string>(all.begin(), all.end());
    const source::LogArchive* archive = LB_TRY(log_archive_of(manifests));
    for (const auto& name : all) {
        if (archive->is_shared(name)) names.insert(name);
    }
    const RestorableWindow window = LB_TRY(compute_window(*archive, from.storage(), manifests));
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        for (auto& name : archive->objects_for(manifests[i], window.backups[i], all))
            names.insert(std::move(name));
    }
    return names;
}

// Makes the destination's pins of `manifests` follow the source's (copy.hpp). Runs before any
// manifest is published, so a copied backup is never visible without its pin.
Status copy_pins(const repo::Repository& from, repo::Repository& to,
                 const std::vector<repo::Manifest>& manifests, CopyOutcome& outcome) {
    const auto theirs = LB_TRY(repo::read_pins(from.storage()));
    const auto ours = LB_TRY(repo::read_pins(to.storage()));
    const std::string& origin = from.config().repository_id;
    for (const auto& m : manifests) {
        const auto source = theirs.find(m.id);
        const auto destination = ours.find(m.id);
        const bool ours_own = destination != ours.end() && destination->second.origin != origin;
        if (ours_own) continue;
        if (source != theirs.end()) {
            repo::Pin pin = source->second;
            pin.origin = origin;
            // A legal hold is on the source's objects: the copies carry none.
            pin.legal_hold = LegalHold::off;
            if (destination != ours.end() && destination->second.same_terms(pin)) continue;
            LB_CHECK(repo::write_pin(to.storage(), pin));
            outcome.pins_written.push_back(m.id);
        } else if (destination != ours.end()) {
            LB_CHECK(repo::remove_pin(to.storage(), m.id));
            outcome.pins_removed.push_back(m.id);
        }
    }
    return {};
}

}  // namespace

Result<CopyOutcome> run_copy(repo::Repository& from, repo::Repository& to,
                             const CopyOptions& options, const OperationContext& ctx) {
    if (from.config().repository_id == to.config().repository_id &&
        from.location() == to.location()) {
        return fail(ErrorCode::usage, "--from and --to name the same repository");
    }
    // Block ids are keyed in an encrypted repository. With the same ids on both sides blocks
    // travel as stored; otherwise each gets the destination's id and manifests are rewritten.
    const bool same_ids = from.block_hasher()(std::string_view("lifeboat")) ==
                          to.block_hasher()(std::string_view("lifeboat"));
    // An expire of the source waits for this copy instead of pulling manifests and packs from
    // under it: taken before the first manifest is read, or a concurrent expire makes a manifest
    // vanish (or its packs) between listing and reading and the copy reports false corruption.
    const auto source_lock = LB_TRY(
        repo::RepositoryLock::shared_for_reading(from.storage(), "copy", std::chrono::seconds(3600),
                                                 report_waiting(ctx.progress), lock_timing(ctx)));
    std::vector<repo::Manifest> manifests;
    CopyOutcome outcome;
    if (options.backup_id) {
        manifests.push_back(LB_TRY(repo::read_manifest(from.storage(), *options.backup_id)));
    } else {
        // A damaged manifest stays behind, named; the other backups travel.
        auto set = LB_TRY(repo::read_manifests(from.storage()));
        manifests = std::move(set.backups);
        outcome.damaged = std::move(set.damaged);
    }
    // The destination gains manifests that reference blocks already there: an expire of it must
    // not collect those meanwhile (nor remove a backup this copy counts as present).
    const repo::RepositoryLock lock =
        LB_TRY(repo::RepositoryLock::shared(to.storage(), "copy", std::chrono::seconds(3600),
                                            report_waiting(ctx.progress), lock_timing(ctx)));
    const auto existing_ids = LB_TRY(repo::list_backup_ids(to.storage()));
    const std::set<std::string> existing(existing_ids.begin(), existing_ids.end());
    if (!existing_ids.empty() && !manifests.empty()) {
        const repo::Manifest theirs =
            LB_TRY(repo::read_manifest(to.storage(), existing_ids.back()));
        if (theirs.source.system_identifier != manifests.front().source.system_identifier) {
            return fail(ErrorCode::conflict,
                        "{} holds backups of another cluster (system identifier {}, not {})",
                        to.location(), theirs.source.system_identifier,
                        manifests.front().source.system_identifier);
        }
    }

    LB_CHECK(to.clean_stale_temporaries());
    repo::BlockIndex to_index =
        LB_TRY(repo::load_block_index(to.storage(), repo::OnDamagedIndex::skip));
    auto adopted = LB_TRY(repo::adopt_unindexed_packs(to.storage(), to_index));
    outcome.adopted_packs = adopted.packs.size();
    // A damaged index object is worked around by reading its packs' footers.
    const repo::BlockIndex from_index =
        LB_TRY(repo::load_block_index(from.storage(), repo::OnDamagedIndex::rebuild_from_packs));
    for (const auto& skipped : from_index.skipped)
        outcome.damaged.push_back({skipped.key, skipped.reason});
    for (const auto& pack : from_index.unreadable_packs)
        outcome.damaged.push_back(pack);

    // A backup with a block the source cannot supply stays behind; the others travel.
    std::erase_if(manifests, [&](const repo::Manifest& m) {
        if (existing.count(m.id)) return false;
        for (const auto& e : m.entries) {
            for (const auto& b : e.blocks) {
                if (same_ids && to_index.contains(b)) continue;
                if (from_index.contains(b)) continue;
                outcome.not_copied.push_back(
                    {m.id, fmt::format("file {}: block {} is missing from {}", e.path, b.hex(),
                                       from.location())});
                return true;
            }
        }
        return false;
    });

    // Blocks the destination lacks, grouped by source pack.
    std::map<std::string, std::vector<BlockToMove>> by_pack;
    std::unordered_set<repo::BlockId, repo::BlockIdHash> planned;
    for (const auto& m : manifests) {
        if (existing.count(m.id)) continue;
        for (const auto& e : m.entries) {
            for (const auto& b : e.blocks) {
                if (same_ids && to_index.contains(b)) {
                    ++outcome.blocks_present;
                    continue;
                }
                if (!planned.insert(b).second) continue;
                const auto location = from_index.find(b);
                by_pack[*location->pack_id].push_back({b, location->placement});
            }
        }
    }
    std::optional<BlockRekey> rekey;
    if (!same_ids) rekey.emplace(BlockRekey{to.block_hasher(), to_index, {}, 0});
    const KeepGoingFn both_locks_held = [&]() -> Status {
        LB_CHECK(ctx.check());
        LB_CHECK(lock.check());
        return source_lock ? source_lock->check() : Status{};
    };
    auto moved =
        LB_TRY(transfer_blocks(from, to, by_pack, options.jobs, options.io_depth, ctx.progress,
                               "copying blocks", rekey ? &*rekey : nullptr, both_locks_held));
    LB_CHECK(both_locks_held());
    if (rekey) outcome.blocks_present += rekey->already_present;
    outcome.blocks_copied = moved.blocks;
    outcome.bytes_copied = moved.bytes;
    outcome.requests = moved.requests;
    outcome.bytes_fetched = moved.bytes_fetched;
    outcome.io_depth = moved.io_depth;
    auto packs = std::move(moved.packs);
    for (auto& p : adopted.packs)
        packs.push_back(std::move(p));
    LB_CHECK(ctx.stage("copy:packs"));
    std::vector<std::string> new_indexes;
    if (!packs.empty()) new_indexes.push_back(LB_TRY(repo::write_index(to.storage(), packs)));
    LB_CHECK(ctx.stage("copy:index"));

    // WAL objects travel several at once (each is a request or two on either side; an object
    // store far away answers each after a round trip), few enough that whole segments held at
    // once stay within the memory target.
    std::set<std::string> damaged_wal;
    const std::set<std::string> needed = LB_TRY(wal_needed(from, manifests, !options.backup_id));
    const std::vector<std::string> wal(needed.begin(), needed.end());
    std::mutex wal_mutex;
    const std::size_t damaged_before = outcome.damaged.size();
    const unsigned wal_threads = std::max(
        1u, std::min(k_wal_copies_in_flight, io_depth_for(from.storage(), options.io_depth)));
    LB_CHECK(parallel_for(
        wal.size(), wal_threads,
        [&](std::size_t i, unsigned) -> Status {
            const std::string& name = wal[i];
            const auto pushed = repo::copy_wal_object(from.storage(), to.storage(), name);
            std::lock_guard lock(wal_mutex);
            if (!pushed) {
                if (pushed.error().code != ErrorCode::corrupt)
                    return std::unexpected(pushed.error());
                outcome.damaged.push_back(
                    repo::damaged_object(repo::wal_key(name), pushed.error()));
                damaged_wal.insert(name);
            } else if (*pushed == repo::PushOutcome::stored) {
                ++outcome.wal_copied;
            } else {
                ++outcome.wal_present;
            }
            return {};
        },
        ctx.cancellation.get()));
    // In name order, as they were before the copies ran in parallel.
    std::sort(outcome.damaged.begin() + static_cast<std::ptrdiff_t>(damaged_before),
              outcome.damaged.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    // Before any manifest: a copied backup never shows a window without the gaps its source
    // recorded after it.
    outcome.gaps_copied = LB_TRY(repo::copy_stream_gaps(from.storage(), to.storage()));

    LB_CHECK(copy_pins(from, to, manifests, outcome));
    LB_CHECK(ctx.stage("copy:pins"));
    for (auto m : manifests) {
        if (existing.count(m.id)) {
            outcome.present_backups.push_back(m.id);
            continue;
        }
        // A backup appears only with the WAL it needs to become consistent.
        const auto needed_damaged =
            std::find_if(damaged_wal.begin(), damaged_wal.end(), [&](const std::string& name) {
                return name.size() >= 24 && name.substr(0, 8) == m.start_wal.substr(0, 8) &&
                       name.substr(0, 24) >= m.start_wal && name.substr(0, 24) <= m.stop_wal;
            });
        if (needed_damaged != damaged_wal.end()) {
            outcome.not_copied.push_back(
                {m.id, fmt::format("WAL {} it needs is damaged in the source", *needed_damaged)});
            continue;
        }
        // The destination's own index objects hold its copies of the blocks.
        m.indexes = new_indexes;
        if (rekey) {
            for (auto& e : m.entries)
                for (auto& b : e.blocks)
                    b = rekey->ids.at(b);
        }
        LB_CHECK(both_locks_held());
        LB_CHECK(ctx.stage("copy:manifest"));
        LB_CHECK(repo::write_manifest(to.storage(), m));
        outcome.copied_backups.push_back(m.id);
    }
    return outcome;
}

}  // namespace lifeboat::engine
