#include "engine/verify.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "engine/context.hpp"
#include "engine/drill.hpp"
#include "engine/read_plan.hpp"
#include "engine/window.hpp"
#include "repository/byte_reader.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/object.hpp"
#include "repository/pins.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_summary_store.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

constexpr std::size_t k_max_named_references = 5;
// Objects held at once while checked: the 64 MiB memory target, less room for the rest.
constexpr std::uint64_t k_verify_memory = 48ull * 1024 * 1024;
constexpr std::uint64_t k_wal_segment_bytes = 16ull * 1024 * 1024;

struct References {
    std::vector<std::string> named;  // "backup X file Y", at most k_max_named_references
    std::size_t count = 0;
};

struct Verifier {
    const Storage& storage;
    VerifyReport& report;
    std::mutex mutex;

    void problem(std::string object, std::string message, std::vector<std::string> affected = {}) {
        std::lock_guard lock(mutex);
        report.problems.push_back({std::move(object), std::move(message), std::move(affected)});
    }
};

std::vector<std::string> affected_of(const References& refs) {
    std::vector<std::string> out = refs.named;
    if (refs.count > refs.named.size()) {
        out.push_back(fmt::format("and {} more references", refs.count - refs.named.size()));
    }
    return out;
}

// What several damaged blocks affect, one line per backup file with its number of blocks: a
// damaged pack can hold hundreds of one file's blocks, and a line per block buries the news.
std::vector<std::string> grouped_affected(const std::vector<const References*>& refs) {
    std::map<std::string, std::size_t> blocks_per_file;
    std::vector<std::string> order;
    std::size_t unnamed = 0;
    for (const References* r : refs) {
        for (const auto& name : r->named) {
            if (blocks_per_file[name]++ == 0) order.push_back(name);
        }
        unnamed += r->count - r->named.size();
    }
    std::vector<std::string> out;
    for (const auto& name : order) {
        const std::size_t n = blocks_per_file[name];
        out.push_back(n == 1 ? name : fmt::format("{} ({} blocks)", name, n));
    }
    if (unnamed > 0) out.push_back(fmt::format("and {} more references", unnamed));
    return out;
}

// Pins and drill records hold no backup data, but a damaged pin changes what expire keeps and a
// damaged record what `list` and `report` claim was proven, so their checksums are checked too.
Status check_pins_and_drills(const Storage& storage, Verifier& verifier) {
    for (const auto& [backup_id, pin] : LB_TRY(repo::read_pins(storage))) {
        if (!pin.problem.empty())
            verifier.problem("pins/" + backup_id, pin.problem, {"backup " + backup_id});
    }
    for (const auto& object : LB_TRY(storage.list("drills"))) {
        auto bytes = storage.read(object.key);
        if (!bytes) {
            verifier.problem(object.key, bytes.error().message);
            continue;
        }
        auto text = repo::decode_object(*bytes, repo::ObjectKind::drill, object.key);
        if (!text) {
            verifier.problem(object.key, text.error().message);
        } else if (auto record = parse_drill_record(*text, object.key); !record) {
            verifier.problem(object.key, record.error().message);
        }
    }
    return {};
}

// WAL summaries are advisory (a damaged one makes the next incremental read by timestamps), but
// damage in the repository is named wherever it is.
Status check_wal_summaries(const Storage& storage, Verifier& verifier) {
    const std::string prefix(repo::k_wal_summary_prefix);
    for (const auto& object : LB_TRY(storage.list(prefix.substr(0, prefix.size() - 1)))) {
        if (!object.key.starts_with(prefix)) continue;
        auto payload = repo::read_wal_summary(storage, object.key.substr(prefix.size()));
        if (payload || payload.error().code == ErrorCode::not_found) continue;
        // A storage failure is the command's failure, not damage of the object.
        if (!repo::is_damage(payload.error())) return std::unexpected(payload.error());
        verifier.problem(object.key,
                         fmt::format("{} (incrementals that need it read by timestamps)",
                                     payload.error().message));
    }
    return {};
}

}  // namespace

Result<VerifyReport> run_verify(repo::Repository& repository, const VerifyOptions& options,
                                const OperationContext& ctx) {
    // An expire waits for verification instead of making packs vanish in the middle of it.
    const auto lock = LB_TRY(repo::RepositoryLock::shared_for_reading(
        repository.storage(), "verify", std::chrono::seconds(3600), {}, lock_timing(ctx)));
    const Storage& storage = repository.storage();
    VerifyReport report;
    Verifier verifier{storage, report, {}};

    std::vector<repo::Manifest> manifests;
    const auto ids = options.backup_id ? std::vector<std::string>{*options.backup_id}
                                       : LB_TRY(repo::list_backup_ids(storage));
    for (const auto& id : ids) {
        auto manifest = repo::read_manifest(storage, id);
        if (!manifest) {
            if (options.backup_id || !repo::is_damage(manifest.error()))
                return std::unexpected(manifest.error());
            verifier.problem(repo::manifest_key(id), manifest.error().message, {"backup " + id});
            continue;
        }
        manifests.push_back(std::move(*manifest));
    }
    report.backups = manifests.size();
    for (const auto& m : manifests) {
        for (const auto& unsafe : repo::find_unsafe_entries(m)) {
            std::string path = unsafe.path;
            for (char& c : path)
                if (static_cast<unsigned char>(c) < 0x20) c = '?';
            verifier.problem(
                repo::manifest_key(m.id),
                fmt::format("entry '{}' must never be restored: {}", path, unsafe.reason),
                {"backup " + m.id});
        }
    }
    if (!options.backup_id) {
        auto loose = LB_TRY(repository.loose_permissions());
        report.loose_permissions = loose.size();
        if (loose.size() > k_max_permission_warnings) loose.resize(k_max_permission_warnings);
        report.permission_warnings = std::move(loose);
        LB_CHECK(check_pins_and_drills(storage, verifier));
        LB_CHECK(check_wal_summaries(storage, verifier));
    }

    // A damaged index object is named (with the backups that wrote it) instead of aborting.
    // Its packs are then found through their own footers, so their blocks are still checked.
    const repo::BlockIndex index =
        LB_TRY(repo::load_block_index(storage, repo::OnDamagedIndex::rebuild_from_packs));
    for (const auto& pack : index.unreadable_packs)
        verifier.problem(pack.key, pack.reason);
    for (const auto& damaged : index.skipped) {
        std::vector<std::string> affected;
        for (const auto& m : manifests) {
            if (std::find(m.indexes.begin(), m.indexes.end(), damaged.id) != m.indexes.end())
                affected.push_back("backup " + m.id);
        }
        verifier.problem(damaged.key,
                         damaged.reason +
                             "; `lifeboat repair` moves it aside and re-indexes "
                             "its packs",
                         affected);
    }

    // Which blocks each backup needs, grouped by pack.
    std::unordered_map<repo::BlockId, References, repo::BlockIdHash> references;
    for (const auto& m : manifests) {
        for (const auto& e : m.entries) {
            for (const auto& b : e.blocks) {
                References& r = references[b];
                if (r.named.size() < k_max_named_references)
                    r.named.push_back(fmt::format("backup {} file {}", m.id, e.path));
                ++r.count;
            }
        }
    }
    std::map<std::string, std::vector<std::pair<repo::BlockId, repo::BlockPlacement>>> by_pack;
    for (const auto& [id, refs] : references) {
        auto location = index.find(id);
        if (!location) {
            verifier.problem("block " + id.hex(), "missing from the repository index",
                             affected_of(refs));
            continue;
        }
        by_pack[*location->pack_id].emplace_back(id, location->placement);
    }
    std::vector<std::string> pack_ids;
    for (const auto& [id, blocks] : by_pack)
        pack_ids.push_back(id);
    report.packs = pack_ids.size();
    report.blocks = references.size();

    std::atomic<std::size_t> packs_done{0};
    const unsigned jobs = options.jobs ? options.jobs : default_jobs();
    // More reads in flight than workers pays on an object store, within the memory target: whole
    // packs (and WAL segments) are held while they are checked.
    report.io_depth = io_depth_for(storage, options.io_depth);
    const auto in_flight = [&](std::uint64_t object_size) {
        const auto fit = static_cast<unsigned>(
            std::max<std::uint64_t>(1, k_verify_memory / std::max<std::uint64_t>(object_size, 1)));
        return std::max(jobs, std::min(report.io_depth, fit));
    };
    const unsigned pack_threads = in_flight(repository.config().pack_target_size);
    std::atomic<std::uint64_t> requests{0}, bytes_fetched{0};
    std::vector<repo::BlockReader> readers(pack_threads);
    LB_CHECK(parallel_for(
        pack_ids.size(), pack_threads,
        [&](std::size_t i, unsigned worker) -> Status {
            const std::string& pack_id = pack_ids[i];
            const std::string key = repo::pack_key(pack_id);
            const auto& blocks = by_pack.at(pack_id);
            auto bytes = storage.read(key);
            ++requests;
            if (bytes) bytes_fetched += bytes->size();
            if (!bytes && !repo::is_damage(bytes.error())) return std::unexpected(bytes.error());
            if (!bytes) {
                std::vector<const References*> refs;
                for (const auto& [id, placement] : blocks)
                    refs.push_back(&references.at(id));
                verifier.problem(key, bytes.error().message, grouped_affected(refs));
                return {};
            }
            // A damaged footer or trailer spoils no block, but the pack can no longer be
            // re-indexed from its footer (repair), so it affects every backup with blocks in it.
            if (auto envelope = repo::decode_object(*bytes, repo::ObjectKind::pack, key);
                !envelope) {
                std::set<std::string> backups;  // "backup X" of each "backup X file Y"
                for (const auto& [id, placement] : blocks)
                    for (const auto& name : references.at(id).named)
                        backups.insert(name.substr(0, name.find(" file ")));
                verifier.problem(key, envelope.error().message, {backups.begin(), backups.end()});
            }
            std::string block;
            // One problem per pack, however many of its blocks fail: the first reason stands for
            // the rest, and what they affect is grouped per file.
            std::string first_reason;
            std::vector<const References*> damaged;
            for (const auto& [id, placement] : blocks) {
                std::optional<std::string> reason;
                // Index readers check this already; kept without wrapping for packs found
                // otherwise.
                if (!repo::range_within(placement.offset, placement.stored_length, bytes->size())) {
                    reason = "block " + id.hex() + " lies outside the pack";
                } else {
                    const std::string_view stored =
                        std::string_view(*bytes).substr(placement.offset, placement.stored_length);
                    auto status = repo::decode_block(stored, id, placement, readers[worker], block,
                                                     repository.block_hasher());
                    if (!status) reason = status.error().message;
                }
                if (!reason) continue;
                if (damaged.empty()) first_reason = *reason;
                damaged.push_back(&references.at(id));
            }
            if (damaged.size() == 1) {
                verifier.problem(key, first_reason, affected_of(*damaged.front()));
            } else if (!damaged.empty()) {
                verifier.problem(key,
                                 fmt::format("{} of its {} blocks are damaged (first: {})",
                                             damaged.size(), blocks.size(), first_reason),
                                 grouped_affected(damaged));
            }
            ctx.report({"checking packs", ++packs_done, static_cast<std::uint64_t>(pack_ids.size()),
                        ProgressUnit::items});
            return {};
        },
        ctx.cancellation.get()));
    std::error_code ec;
    for (const auto& id : LB_TRY(repo::find_unindexed_packs(storage, index))) {
        (void)id;
        ++report.unreferenced_packs;
    }

    // WAL: everything when verifying the whole repository; else the selected backup's run.
    const source::LogArchive* archive = LB_TRY(log_archive_of(manifests));
    const RestorableWindow window = LB_TRY(compute_window(*archive, storage, manifests));
    const auto archived = LB_TRY(repo::list_wal_names(storage));
    std::set<std::string> wal_names;
    if (!options.backup_id) wal_names.insert(archived.begin(), archived.end());
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        const auto& m = manifests[i];
        const auto& reach = window.backups[i];
        if (!reach.consistent) {
            verifier.problem(
                reach.first_missing_segment,
                fmt::format("WAL segment is missing; backup {} needs {} .. {} to be consistent",
                            m.id, m.start_wal, m.stop_wal),
                {"backup " + m.id});
        }
        for (auto& name : archive->objects_for(m, reach, archived))
            wal_names.insert(std::move(name));
    }
    const std::vector<std::string> wal_list(wal_names.begin(), wal_names.end());
    report.wal_files = wal_list.size();
    std::atomic<std::size_t> wal_done{0};
    // What older versions let in: WAL of another cluster, files that are not what their names say.
    const auto cluster = LB_TRY(repo::expected_system_identifier(storage));
    if (auto identity = repo::read_cluster_identity(storage); !identity) {
        if (!repo::is_damage(identity.error())) return std::unexpected(identity.error());
        verifier.problem(std::string(repo::k_cluster_identity_key), identity.error().message);
    }
    LB_CHECK(parallel_for(
        wal_list.size(), in_flight(k_wal_segment_bytes),
        [&](std::size_t i, unsigned) -> Status {
            auto content = repo::fetch_wal(storage, wal_list[i]);
            ++requests;
            if (content) bytes_fetched += content->size();
            if (!content && !repo::is_damage(content.error()))
                return std::unexpected(content.error());
            std::optional<std::string> problem;
            if (!content) {
                problem = content.error().message;
            } else if (auto facts = archive->check_object(storage, wal_list[i], *content); !facts) {
                problem = facts.error().message;
            } else if (cluster && facts->source_identity && *facts->source_identity != *cluster) {
                problem = repo::another_cluster_error(*facts->source_identity, *cluster).message;
            }
            if (problem) {
                std::vector<std::string> affected;
                for (const auto& m : manifests)
                    affected.push_back("backup " + m.id);
                if (affected.size() > k_max_named_references)
                    affected.resize(k_max_named_references);
                verifier.problem(repo::wal_key(wal_list[i]), *problem, affected);
            }
            ctx.report({"checking WAL", ++wal_done, static_cast<std::uint64_t>(wal_list.size()),
                        ProgressUnit::items});
            return {};
        },
        ctx.cancellation.get()));
    report.requests = requests.load();
    report.bytes_fetched = bytes_fetched.load();
    return report;
}

}  // namespace lifeboat::engine
