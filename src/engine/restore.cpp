#include "engine/restore.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "engine/context.hpp"
#include "engine/restore_files.hpp"
#include "engine/window.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "source/registry.hpp"
#include "util/net.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

void release_free_memory() {
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
}

// A thread that works on the log beside the restore (RestoreTarget::prefetch_log): begun once,
// finished (stop set, thread joined) before the restore returns or removes anything.
class LogPrefetch {
  public:
    LogPrefetch() = default;
    LogPrefetch(const LogPrefetch&) = delete;
    LogPrefetch& operator=(const LogPrefetch&) = delete;
    ~LogPrefetch() { finish(); }

    void begin(std::function<std::uint64_t(const std::atomic<bool>&)> work) {
        m_thread = std::thread([this, work = std::move(work)] { m_fetched = work(m_stop); });
    }
    // Stops the work and waits for it; returns what it fetched.
    std::uint64_t finish() {
        m_stop = true;
        if (m_thread.joinable()) m_thread.join();
        return m_fetched;
    }

  private:
    std::atomic<bool> m_stop{false};
    std::uint64_t m_fetched = 0;
    std::thread m_thread;
};

}  // namespace

Result<RestoreOutcome> run_restore(repo::Repository& repository, const RestoreOptions& options,
                                   const OperationContext& ctx) {
    const auto started = Clock::now();
    if (options.backup_id) LB_CHECK(repo::check_backup_id(*options.backup_id));
    // A port already taken would fail the new server's start only after every file is written:
    // refuse it now. Sockets are looked for where PostgreSQL puts them by default.
    if (options.port) {
        auto free = check_port_free(*options.port, {"/var/run/postgresql", "/tmp"});
        if (!free) {
            return fail(free.error().code, "{}: choose another --port{} (nothing was written)",
                        free.error().message,
                        options.start == StartServer::yes
                            ? ", or leave it out and restore picks a free one"
                            : "");
        }
    }
    // Held until the instance is ready (with --start): expire must not remove what this reads.
    const auto lock = LB_TRY(repo::RepositoryLock::shared_for_reading(
        repository.storage(), "restore", std::chrono::seconds(3600), report_waiting(ctx.progress),
        lock_timing(ctx)));
    if (options.target && options.consistent)
        return fail(ErrorCode::usage, "a time target and 'consistent' exclude each other");
    // The manifests' headers only: the window and the choice need no entries, which are most of
    // every manifest's text (the time grew with the repository's history); the chosen backup's
    // manifest is then read whole. A damaged manifest blocks only its own backup; the others
    // stay restorable.
    auto manifest_set =
        LB_TRY(repo::read_manifests(repository.storage(), repo::ManifestParts::header));
    std::vector<repo::Manifest>& manifests = manifest_set.backups;
    const source::LogArchive* archive = nullptr;
    std::optional<RestorableWindow> chosen_window;
    const BackupReach* reach = nullptr;
    repo::Manifest chosen;
    for (;;) {
        for (const auto& damaged : manifest_set.damaged) {
            if (options.backup_id && damaged.key == repo::manifest_key(*options.backup_id)) {
                return fail(ErrorCode::corrupt,
                            "backup {} cannot be restored: its manifest is damaged ({}); "
                            "`lifeboat copy` it back from another repository, or restore another "
                            "backup",
                            *options.backup_id, damaged.reason);
            }
        }
        if (manifests.empty()) {
            return fail(ErrorCode::outside_window, "repository {} holds no backup yet",
                        repository.location());
        }
        archive = LB_TRY(log_archive_of(manifests));
        chosen_window = LB_TRY(compute_window(*archive, repository.storage(), manifests));
        reach = LB_TRY(choose_restore(*chosen_window, {.target = options.target,
                                                       .consistent = options.consistent,
                                                       .backup_id = options.backup_id,
                                                       .timeline = options.timeline}));
        auto whole = repo::read_manifest(repository.storage(), reach->backup_id);
        if (whole) {
            chosen = std::move(*whole);
            break;
        }
        const ErrorCode code = whole.error().code;
        if (code != ErrorCode::corrupt && code != ErrorCode::usage)
            return std::unexpected(whole.error());
        // Damaged where the header read did not look (its entries): left out like a manifest
        // damaged anywhere else, and the choice made again without it.
        const std::string id = reach->backup_id;
        manifest_set.damaged.push_back(repo::damaged_object(repo::manifest_key(id), whole.error()));
        // Each round leaves one backup out, so the choice ends (the guard keeps it so).
        if (std::erase_if(manifests, [&](const repo::Manifest& m) { return m.id == id; }) == 0)
            return std::unexpected(whole.error());
    }
    const RestorableWindow& window = *chosen_window;
    std::vector<std::string> warnings;
    for (const auto& damaged : manifest_set.damaged)
        warnings.push_back(fmt::format("left out damaged {} ({})", damaged.key, damaged.reason));
    // 'latest' means the end of the archive. With a hole in it, PostgreSQL would stop at the hole
    // and promote there, silently short of what the archive holds after it.
    if (!options.target && !options.consistent && reach->gap) {
        return fail(ErrorCode::outside_window,
                    "cannot restore to latest: WAL segment {} is missing from the archive, so "
                    "replay would stop there although later WAL exists; restore to a time before "
                    "it (--to, within {}) or recover the segment",
                    reach->first_missing_segment,
                    reach->timeline == window.backups[reach->backup_index].timeline
                        ? window.describe()
                        : fmt::format("{} .. {}", format_iso8601(reach->from),
                                      reach->to ? format_iso8601(*reach->to) : std::string("?")));
    }
    // The end of the window is included, but PostgreSQL stops a time target only at a later
    // transaction end, which the archive does not hold yet: recovery would run out of WAL short
    // of its target and refuse to finish. Stopping right after the run's last transaction end
    // (inclusive LSN target) restores the same data, and no later-archived WAL can add to it.
    std::optional<std::string> stop_after;
    if (options.target && reach->to && *options.target == *reach->to) {
        stop_after = LB_TRY(archive->stop_position_at_end(repository.storage(), *reach));
    }
    const repo::Manifest* manifest = &chosen;
    // A manifest that would write outside the target (forged, or damaged) is refused before
    // anything is created.
    LB_CHECK(repo::check_entries_safe(*manifest));
    const source::SourceDriver* driver = LB_TRY(source::driver_for(manifest->source.kind));
    const std::unique_ptr<source::RestoreTarget> target =
        driver->restore_target({.target_dir = options.target_dir,
                                .source_pgdata = options.source_pgdata,
                                .tablespace_dirs = options.tablespace_dirs,
                                .lifeboat_binary = options.lifeboat_binary,
                                .pg_bin = options.pg_bin,
                                .run_as_user = options.run_as_user,
                                .start_timeout = options.start_timeout,
                                .archiving = options.archiving,
                                .target_conninfo = options.target_conninfo,
                                .only_table = options.only_table,
                                .jobs = options.jobs,
                                .replay_memory = options.replay_memory});
    auto tablespace_dirs = LB_TRY(target->check_and_place(*manifest));
    // Only this backup's blocks are looked up: the locations of blocks only other backups hold
    // are not kept (memory that would grow with the repository).
    std::vector<repo::BlockId> wanted;
    for (const auto& entry : manifest->entries)
        wanted.insert(wanted.end(), entry.blocks.begin(), entry.blocks.end());
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    wanted.shrink_to_fit();
    // A damaged index object is worked around by reading the footers of the packs it listed.
    const repo::BlockIndex index = LB_TRY(
        repo::load_block_index(repository.storage(), repo::OnDamagedIndex::rebuild_from_packs,
                               nullptr, [&](const repo::BlockId& id) {
                                   return std::binary_search(wanted.begin(), wanted.end(), id);
                               }));
    std::vector<repo::BlockId>().swap(wanted);
    for (const auto& skipped : index.skipped) {
        warnings.push_back(fmt::format(
            "damaged {} ({}): its packs were read directly; `lifeboat repair` rebuilds it",
            skipped.key, skipped.reason));
    }
    for (const auto& pack : index.unreadable_packs)
        warnings.push_back(fmt::format("unreadable {}: {}", pack.key, pack.reason));

    RestoreOutcome outcome;
    outcome.warnings = std::move(warnings);
    outcome.backup_id = manifest->id;
    outcome.backup_timeline = manifest->timeline;
    outcome.timeline = reach->timeline;
    outcome.target = options.target;
    outcome.reach_end = reach->to;
    std::error_code path_error;
    outcome.target_dir = fs::absolute(options.target_dir, path_error);
    // The non-throwing overloads: a target below a directory we may not enter is an error to
    // report, not an exception that skips releasing the lock.
    const bool existed = fs::exists(options.target_dir, path_error);
    // The recovery plan; the port is chosen once the files are written.
    source::RecoveryPlan plan{.manifest = manifest,
                              .timeline = reach->timeline,
                              .target = options.target,
                              .consistent = options.consistent,
                              .stop_position = stop_after,
                              .key_file = options.key_file,
                              .log_storage = &repository.storage()};
    // A restore that starts the instance lets the target work on its log while the files are
    // written (PhysicalRestoreTarget: the first WAL segments into the prefetch spool).
    LogPrefetch log_prefetch;
    auto undo = [&](const Error& error) -> Result<RestoreOutcome> {
        log_prefetch.finish();  // nothing may write into what is removed below
        // Nothing half-restored may look like a usable instance.
        std::error_code ec;
        if (existed) {
            for (auto& child : fs::directory_iterator(options.target_dir, ec))
                fs::remove_all(child.path(), ec);
        } else {
            fs::remove_all(options.target_dir, ec);
        }
        for (const auto& [oid, dir] : tablespace_dirs)
            fs::remove_all(dir, ec);
        return std::unexpected(error);
    };

    MaterializeOptions materialize{.manifest = manifest,
                                   .index = &index,
                                   .storage = &repository.storage(),
                                   .hasher = &repository.block_hasher(),
                                   .target_dir = options.target_dir,
                                   .tablespace_dirs = tablespace_dirs,
                                   .jobs = options.jobs ? options.jobs : default_jobs(),
                                   .io_depth = options.io_depth,
                                   .progress = ctx.progress,
                                   .keep_going = [&lock, &ctx]() -> Status {
                                       LB_CHECK(ctx.check());
                                       return lock ? lock->check() : Status{};
                                   },
                                   .file_sync = options.file_sync,
                                   .direct_writes = options.direct_writes,
                                   .block_check = options.check_block_ids
                                                      ? repo::BlockCheck::id
                                                      : repo::BlockCheck::stored_checksum};
    // restore_command runs in the new data directory: give it an absolute path for a local
    // repository, and the location exactly as given (endpoint and all) for a URL.
    const std::string location_for_commands =
        repository.storage().features().local_path || options.repository_location.empty()
            ? repository.location()
            : options.repository_location;
    plan.repository_location = location_for_commands;
    std::future<Result<double>> preparation;
    if (options.start == StartServer::yes) {
        preparation = std::async(std::launch::async,
                                 [&] { return target->prepare_start(location_for_commands); });
    }
    auto stats = materialize_backup(materialize);
    std::optional<double> prepared;
    if (preparation.valid()) {
        auto result = preparation.get();
        if (stats && !result) return undo(result.error());
        if (result) prepared = std::move(*result);
    }
    if (!stats) return undo(stats.error());
    if (options.start == StartServer::yes) {
        // The file phase's buffers are freed but may stay with the process; give them back
        // before the log work allocates its own (a WAL segment at a time), so the process's
        // peak stays the file phase's.
        release_free_memory();
        log_prefetch.begin(
            [&](const std::atomic<bool>& stop) { return target->prefetch_log(plan, stop); });
    }
    if (auto stage = ctx.stage("restore:files"); !stage) return undo(stage.error());
    outcome.files = stats->files;
    outcome.bytes = stats->bytes;
    outcome.requests = stats->requests;
    outcome.bytes_fetched = stats->bytes_fetched;
    outcome.direct_bytes = stats->direct_bytes;
    outcome.blocks_checked = stats->checked;
    outcome.io_depth = stats->io_depth;
    outcome.sync_seconds = stats->sync_seconds;
    if (prepared) outcome.prepare_seconds = *prepared;
    // A started instance needs its own port: the source usually runs on this host. Chosen only
    // now, so that nothing takes it while the files are written.
    if (options.port) {
        outcome.port = *options.port;
    } else if (options.start == StartServer::yes) {
        auto port = free_local_port();
        if (!port) return undo(port.error());
        outcome.port = *port;
    }
    // Files written, recovery not yet configured: a cancellation (or a test stopping here)
    // removes them again.
    if (auto stage = ctx.stage("restore:settings"); !stage) return undo(stage.error());
    source::RecoveryPlan configured = plan;
    configured.port = outcome.port;
    auto settings = target->configure(configured);
    if (!settings) return undo(settings.error());
    outcome.replaced_settings = std::move(*settings);
    // The files were flushed as they were written, and configure writes its own files with
    // fsync (write_file_atomic): all of the restore is on disk from here on.
    outcome.durable = true;
    if (auto stage = ctx.stage("restore:configured"); !stage) return undo(stage.error());
    outcome.files_seconds = seconds_since(started);
    if (options.start == StartServer::yes) {
        auto instance = target->start_and_await(outcome.port, ctx);
        outcome.log_prefetched = log_prefetch.finish();
        outcome.started = target->has_started();
        if (!instance) {
            if (!outcome.started) return undo(instance.error());
            return std::unexpected(instance.error());
        }
        outcome.replay_seconds = instance->replay_seconds;
        outcome.ready_seconds = instance->ready_seconds;
        outcome.recovery = instance->phases;
        outcome.replay_memory_bytes = instance->replay_memory_bytes;
        outcome.replay_max_wal_size_bytes = instance->replay_max_wal_size_bytes;
        outcome.conninfo = instance->conninfo;
    }
    outcome.total_seconds = seconds_since(started);
    return outcome;
}

}  // namespace lifeboat::engine
