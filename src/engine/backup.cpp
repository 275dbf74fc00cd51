#include "engine/backup.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/backup_plan.hpp"
#include "engine/backup_reader.hpp"
#include "engine/context.hpp"
#include "repository/block_writer.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/index.hpp"
#include "repository/lock.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/cluster.hpp"
#include "sources/postgres/data_directory.hpp"
#include "sources/postgres/wal.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

using postgres::DataEntry;
using postgres::DataEntryType;

struct FileAssembly {
    std::vector<repo::BlockId> blocks;
    std::uint64_t size = 0;
    bool vanished = false;
    bool truncated = false;
};

repo::ManifestEntry manifest_entry(const DataEntry& entry) {
    repo::ManifestEntry m;
    m.path = entry.path;
    m.mode = entry.mode;
    m.mtime = entry.mtime;
    m.mtime_nsec = entry.mtime_nsec;
    switch (entry.type) {
        case DataEntryType::directory:
            m.type = repo::EntryType::directory;
            break;
        case DataEntryType::file:
            m.type = repo::EntryType::file;
            break;
        case DataEntryType::tablespace_link:
        case DataEntryType::symlink:
            m.type = repo::EntryType::symlink;
            m.link_target = entry.link_target;
            break;
    }
    return m;
}

Result<std::string> unique_backup_id(const Storage& storage, Timestamp start) {
    const std::string base = format_compact(start);
    const auto existing = LB_TRY(repo::list_backup_ids(storage));
    std::string id = base;
    for (int n = 2; std::find(existing.begin(), existing.end(), id) != existing.end(); ++n) {
        id = fmt::format("{}_{}", base, n);
    }
    return id;
}

// The id chosen at the start is only a proposal: another backup that started in the same second
// may have published it since. The manifest's conditional create (Overwrite::never, which every
// storage backend implements) decides atomically; the loser takes the next free suffix. Returns
// the id the manifest was published under.
Result<std::string> publish_manifest(Storage& storage, const repo::Manifest& manifest) {
    constexpr int k_attempts = 100;
    auto written = repo::write_manifest(storage, manifest);
    if (written || written.error().code != ErrorCode::conflict) {
        if (!written) return std::unexpected(written.error());
        return manifest.id;
    }
    repo::Manifest renamed = manifest;
    for (int attempt = 1;; ++attempt) {
        renamed.id = LB_TRY(unique_backup_id(storage, manifest.start_time));
        written = repo::write_manifest(storage, renamed);
        if (written) return renamed.id;
        if (written.error().code != ErrorCode::conflict || attempt == k_attempts)
            return std::unexpected(written.error());
    }
}

// Every segment from start to stop must be in the repository before the backup counts. While
// waiting, the archiver's last failure (pg_stat_archiver) is shown in the progress and quoted in
// the timeout error: a broken archive_command is the usual reason, and says what to fix.
Status wait_for_wal(const Storage& storage, postgres::Connection& conn,
                    const std::string& start_wal, const std::string& stop_wal,
                    std::uint64_t segment_size, std::chrono::seconds timeout,
                    const OperationContext& ctx) {
    const ProgressFn& progress = ctx.progress;
    std::optional<std::string> failure;
    auto next_look = std::chrono::steady_clock::now();
    auto look_at_archiver = [&] {
        if (std::chrono::steady_clock::now() < next_look) return;
        next_look = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        // Only a hint: a query that fails here leaves the wait (and its own error) as it was.
        auto state = postgres::archiver_failure(conn);
        if (!state) return;
        failure = *state;
        if (progress && failure) progress({"waiting for WAL archive; " + *failure, 0, 0});
    };
    const auto first = postgres::parse_wal_file_name(start_wal, segment_size);
    const auto last = postgres::parse_wal_file_name(stop_wal, segment_size);
    if (!first || !last) {
        return fail(ErrorCode::internal, "unexpected WAL names {} .. {}", start_wal, stop_wal);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (auto segno = first->segno; segno <= last->segno; ++segno) {
        const std::string name = postgres::wal_file_name({last->timeline, segno}, segment_size);
        for (;;) {
            auto found = storage.stat(repo::wal_key(name));
            if (found) break;
            if (found.error().code != ErrorCode::not_found) return std::unexpected(found.error());
            look_at_archiver();
            if (std::chrono::steady_clock::now() > deadline) {
                next_look = std::chrono::steady_clock::now();
                look_at_archiver();
                return fail(
                    ErrorCode::repository,
                    "WAL segment {} needed by this backup did not reach the repository "
                    "within {} s; check that archive_command runs `lifeboat wal-push %p` "
                    "into this repository (the backup was not recorded; `lifeboat check` says what "
                    "is wrong){}",
                    name, timeout.count(), failure ? "; " + *failure : std::string());
            }
            LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(25)));
        }
    }
    return {};
}

}  // namespace

Result<BackupOutcome> run_backup(repo::Repository& repository, const BackupOptions& options,
                                 const OperationContext& ctx) {
    const auto started = std::chrono::steady_clock::now();
    if (options.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn =
        LB_TRY(postgres::Connection::open(options.conninfo, {.statement = options.pg_timeout}));
    const postgres::ClusterInfo cluster = LB_TRY(postgres::describe_cluster(conn));
    if (cluster.server_version / 10000 != 15) {
        return fail(
            ErrorCode::database,
            "the server runs PostgreSQL {}; this version of Lifeboat backs up PostgreSQL 15",
            cluster.server_version);
    }
    if (cluster.archive_mode == "off") {
        return fail(ErrorCode::database,
                    "archive_mode is off: without archived WAL no backup can be restored; set "
                    "archive_mode = on and archive_command = 'lifeboat wal-push %p --repo {}'",
                    repository.location());
    }
    const fs::path pgdata = options.pgdata ? *options.pgdata : fs::path(cluster.data_directory);
    std::error_code ec;
    if (!fs::equivalent(pgdata, cluster.data_directory, ec)) {
        return fail(ErrorCode::usage,
                    "data directory {} is not the one the server at --pg uses ({})",
                    pgdata.string(), cluster.data_directory);
    }
    // Held until the manifest is published: expire must not collect blocks this backup reuses.
    repo::RepositoryLock lock =
        LB_TRY(repo::RepositoryLock::shared(repository.storage(), "backup", options.lock_wait,
                                            report_waiting(ctx.progress), lock_timing(ctx)));
    // One source per repository: refuse to mix clusters.
    // The newest readable manifest: a damaged one is named by list and verify, and must not
    // stop every later backup.
    auto previous_ids = LB_TRY(repo::list_backup_ids(repository.storage()));
    std::optional<repo::Manifest> previous;
    while (!previous_ids.empty() && !previous) {
        auto read = repo::read_manifest(repository.storage(), previous_ids.back());
        previous_ids.pop_back();
        if (read) {
            previous = std::move(*read);
        } else if (read.error().code != ErrorCode::corrupt) {
            return std::unexpected(read.error());
        }
    }
    const std::string holds = LB_TRY(repo::record_cluster_identity(
        repository.storage(),
        previous ? previous->source.system_identifier : cluster.system_identifier));
    if (holds != cluster.system_identifier) {
        return fail(ErrorCode::conflict,
                    "repository {} holds backups of another cluster (system identifier {}, "
                    "this server is {})",
                    repository.location(), holds, cluster.system_identifier);
    }

    LB_CHECK(repository.clean_stale_temporaries());
    repo::BlockIndex index =
        LB_TRY(repo::load_block_index(repository.storage(), repo::OnDamagedIndex::skip));
    BackupOutcome outcome;
    for (const auto& damage : index.skipped) {
        outcome.warnings.push_back(
            fmt::format("{} (the packs it named are read and indexed again; run `lifeboat verify`)",
                        damage.reason));
    }
    std::vector<repo::PackSummary> packs;
    auto adopted = LB_TRY(repo::adopt_unindexed_packs(repository.storage(), index));
    for (auto& w : adopted.warnings)
        outcome.warnings.push_back(std::move(w));
    outcome.adopted_packs = adopted.packs.size();
    packs = std::move(adopted.packs);

    const auto start = LB_TRY(postgres::start_backup(conn, "lifeboat"));
    std::error_code path_error;  // fs::absolute fails only without a current directory
    repo::Manifest& manifest = outcome.manifest;
    manifest.id = LB_TRY(unique_backup_id(repository.storage(), start.start_time));
    manifest.source = repo::SourceInfo{"postgres",
                                       cluster.system_identifier,
                                       cluster.server_version,
                                       fs::absolute(pgdata, path_error).string(),
                                       cluster.wal_segment_size,
                                       cluster.data_checksums,
                                       cluster.block_size};
    manifest.start_time = start.start_time;
    manifest.start_lsn = start.start_lsn;
    manifest.start_wal = start.start_wal;
    manifest.timeline = start.timeline;
    manifest.tags = options.tags;

    LB_CHECK(ctx.stage("backup:files"));
    const postgres::DataDirectoryScan scan = LB_TRY(postgres::scan_data_directory(pgdata));
    for (const auto& t : scan.tablespaces)
        manifest.tablespaces.push_back({t.oid, t.location});

    const BackupPlan plan = plan_backup(scan, previous ? &*previous : nullptr, index, options.type,
                                        repository.config().block_size);
    const unsigned jobs = options.jobs ? options.jobs : default_jobs();
    repo::BlockWriter writer(repository, index, jobs);
    std::atomic<std::uint64_t> bytes_done{0};
    const auto start_lsn = postgres::parse_lsn(start.start_lsn).value_or(postgres::Lsn{}).value;
    FileReader reader(writer, repository.config().block_size, cluster.data_checksums, start_lsn,
                      bytes_done);
    std::vector<ChunkResult> results(plan.chunks.size());
    std::vector<std::vector<repo::PageChecksumFailure>> failures(jobs);

    Status copied = [&] {
        PeriodicProgress progress(ctx.progress, "copying files", bytes_done, plan.bytes_to_read);
        return parallel_for(
            plan.chunks.size(), jobs,
            [&](std::size_t i, unsigned worker) -> Status {
                LB_CHECK(lock.check());
                const FileChunk& chunk = plan.chunks[i];
                auto result = reader.read(scan.entries[chunk.entry], chunk.begin, chunk.end, worker,
                                          failures[worker]);
                if (!result) return std::unexpected(result.error());
                results[i] = std::move(*result);
                return {};
            },
            ctx.cancellation.get());
    }();
    LB_CHECK(copied);
    auto written = LB_TRY(writer.finish());
    for (auto& p : written)
        packs.push_back(std::move(p));

    LB_CHECK(lock.check());
    const auto stop = LB_TRY(postgres::stop_backup(conn));
    manifest.stop_time = stop.stop_time;
    manifest.stop_lsn = stop.stop_lsn;
    manifest.stop_wal = stop.stop_wal;
    manifest.backup_label = stop.backup_label;
    manifest.tablespace_map = stop.tablespace_map;
    ctx.report({"waiting for WAL archive", 0, 0});
    LB_CHECK(wait_for_wal(repository.storage(), conn, manifest.start_wal, manifest.stop_wal,
                          cluster.wal_segment_size, options.archive_timeout, ctx));

    // Assemble each file from its chunks, in order. A chunk that came back short means the file
    // shrank while we read it; later chunks are dropped (WAL replay restores the truth).
    std::vector<FileAssembly> files(scan.entries.size());
    for (std::size_t c = 0; c < plan.chunks.size(); ++c) {
        FileAssembly& file = files[plan.chunks[c].entry];
        ChunkResult& chunk = results[c];
        if (chunk.vanished) file.vanished = true;
        if (file.vanished || file.truncated) continue;
        for (auto& b : chunk.blocks)
            file.blocks.push_back(b);
        file.size += chunk.bytes;
        const auto& fc = plan.chunks[c];
        if (fc.end && chunk.bytes < *fc.end - fc.begin) file.truncated = true;
    }
    for (std::size_t i = 0; i < scan.entries.size(); ++i) {
        const DataEntry& entry = scan.entries[i];
        repo::ManifestEntry m = manifest_entry(entry);
        if (entry.type == DataEntryType::file) {
            if (const repo::ManifestEntry* old = plan.reused[i]) {
                m.size = old->size;
                m.blocks = old->blocks;
            } else {
                if (files[i].vanished) continue;
                m.size = files[i].size;
                m.blocks = std::move(files[i].blocks);
            }
            manifest.stats.files += 1;
            manifest.stats.data_bytes += m.size;
        }
        manifest.entries.push_back(std::move(m));
    }
    manifest.stats.reused_files = plan.files_reused;
    manifest.stats.read_bytes = bytes_done.load();
    for (auto& worker_failures : failures) {
        for (auto& f : worker_failures)
            manifest.page_checksum_failures.push_back(std::move(f));
    }
    manifest.stats.new_blocks = writer.new_blocks();
    manifest.stats.stored_bytes = writer.stored_bytes();

    LB_CHECK(lock.check());
    if (!packs.empty())
        manifest.indexes.push_back(LB_TRY(repo::write_index(repository.storage(), packs)));
    manifest.stats.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // The manifest makes the reused blocks referenced: only while no expire could have judged
    // this lock stale and collected them.
    LB_CHECK(lock.check());
    LB_CHECK(ctx.stage("backup:publish"));
    LB_CHECK(lock.confirm());
    manifest.id = LB_TRY(publish_manifest(repository.storage(), manifest));
    for (const auto& f : manifest.page_checksum_failures) {
        outcome.warnings.push_back(
            fmt::format("page checksum failure: {} block {}", f.path, f.block));
    }
    return outcome;
}

}  // namespace lifeboat::engine
