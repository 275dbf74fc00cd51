#include "drivers/postgres_physical/base_backup.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "drivers/postgres_physical/backup_plan.hpp"
#include "drivers/postgres_physical/backup_reader.hpp"
#include "drivers/postgres_physical/read_ahead.hpp"
#include "drivers/postgres_physical/wal_changes.hpp"
#include "sources/postgres/archiver.hpp"
#include "sources/postgres/cluster.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/data_directory.hpp"
#include "sources/postgres/wal.hpp"
#include "util/parallel.hpp"

namespace lifeboat::postgres_physical {

namespace {

using postgres::DataEntry;
using postgres::DataEntryType;

struct FileAssembly {
    std::vector<repo::BlockId> blocks;
    std::uint64_t size = 0;
    bool vanished = false;
    bool truncated = false;
};

ReadPattern read_pattern(const FileChunk& chunk) {
    if (reads_scattered(chunk)) return ReadPattern::scattered;
    if (chunk.skip_follows) return ReadPattern::bounded;
    return ReadPattern::sequential;
}

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

// Every segment from start to stop must be in the repository before the backup counts. While
// waiting, the archiver's last failure (pg_stat_archiver) is shown in the progress and quoted in
// the timeout error: a broken archive_command is the usual reason, and says what to fix.
Status wait_for_wal(source::ContentSink& sink, postgres::Connection& conn,
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
            if (LB_TRY(sink.log_object_archived(name))) break;
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

// One pass over the files: the plan and what each chunk gave.
struct CopyPass {
    BackupPlan plan;
    std::vector<ChunkResult> results;
    std::vector<std::vector<repo::PageChecksumFailure>> failures;  // per worker
    std::uint64_t bytes_read = 0;
    std::uint64_t blocks_read = 0;
    std::uint64_t verified = 0;    // skipped blocks read again whose pages all predate the start
    std::uint64_t mismatched = 0;  // of those, blocks that differ from the previous backup
    std::string first_mismatch;    // "path at offset N"
};

class PhysicalBaseBackup final : public source::BaseBackup {
  public:
    PhysicalBaseBackup(source::BaseBackupRequest request, postgres::Connection conn,
                       postgres::ClusterInfo cluster, fs::path pgdata)
        : m_request(std::move(request)),
          m_conn(std::move(conn)),
          m_cluster(std::move(cluster)),
          m_pgdata(std::move(pgdata)) {
        m_source = repo::SourceInfo{std::string(repo::k_kind_postgres_physical),
                                    m_cluster.system_identifier, m_cluster.server_version};
    }

    const repo::SourceInfo& source() const override { return m_source; }

    Result<source::BaseBackupResult> copy(const repo::Manifest* previous, source::ContentSink& sink,
                                          const OperationContext& ctx) override;

  private:
    // Whether every change to a relation page reaches the WAL (hint bits included): the
    // condition for trusting WAL summaries, which otherwise miss hint-bit-only writes (harmless
    // to a restore, but the check of skipped blocks would take them for a missed change).
    std::expected<void, std::string> summaries_usable() {
        if (m_cluster.data_checksums) return {};
        auto hints = m_conn.query_value("SELECT current_setting('wal_log_hints')");
        if (hints && *hints == "on") return {};
        return std::unexpected<std::string>(
            "neither data checksums nor wal_log_hints are on, so not every page change is in "
            "the WAL");
    }

    Result<CopyPass> copy_files(const postgres::DataDirectoryScan& scan,
                                const repo::Manifest* previous, source::ContentSink& sink,
                                const SummaryPlan& summary, std::uint64_t start_lsn,
                                const OperationContext& ctx,
                                std::optional<BackupType> type = std::nullopt);

    source::BaseBackupRequest m_request;
    postgres::Connection m_conn;
    postgres::ClusterInfo m_cluster;
    fs::path m_pgdata;
    repo::SourceInfo m_source;
};

Result<CopyPass> PhysicalBaseBackup::copy_files(const postgres::DataDirectoryScan& scan,
                                                const repo::Manifest* previous,
                                                source::ContentSink& sink,
                                                const SummaryPlan& summary, std::uint64_t start_lsn,
                                                const OperationContext& ctx,
                                                std::optional<BackupType> type) {
    CopyPass pass;
    const std::uint32_t block_size = sink.block_size();
    pass.plan = plan_backup(
        scan, previous, [&](const repo::BlockId& b) { return sink.holds(b); },
        type.value_or(m_request.type), block_size, summary);
    const BackupPlan& plan = pass.plan;
    const unsigned jobs = sink.workers();
    std::atomic<std::uint64_t> bytes_done{0};
    std::atomic<std::uint64_t> blocks_read{0};
    std::atomic<std::uint64_t> verified{0};
    std::atomic<std::uint64_t> mismatched{0};
    std::mutex first_mismatch_lock;
    FileReader reader(sink, block_size, m_cluster.data_checksums, start_lsn, bytes_done);
    ScatteredReadAhead read_ahead(plan, scan, jobs);
    pass.results.resize(plan.chunks.size());
    pass.failures.resize(jobs);

    PeriodicProgress progress(ctx.progress, "copying files", bytes_done, plan.bytes_to_read);
    LB_CHECK(parallel_for(plan.chunks.size(), jobs, [&](std::size_t i, unsigned worker) -> Status {
        LB_CHECK(sink.keep_going());
        const FileChunk& chunk = plan.chunks[i];
        ChunkResult& out = pass.results[i];
        if (chunk.kind == ChunkKind::reuse) {
            const auto& blocks = chunk.previous->blocks;
            const std::uint64_t first = chunk.begin / block_size;
            const std::uint64_t last = (*chunk.end + block_size - 1) / block_size;
            out.blocks.assign(blocks.begin() + static_cast<std::ptrdiff_t>(first),
                              blocks.begin() + static_cast<std::ptrdiff_t>(last));
            out.bytes = *chunk.end - chunk.begin;
            return {};
        }
        if (reads_scattered(chunk)) read_ahead.started(i, worker);
        const DataEntry& entry = scan.entries[chunk.entry];
        out = LB_TRY(reader.read(entry, chunk.begin, chunk.end, worker, pass.failures[worker],
                                 read_pattern(chunk)));
        blocks_read += out.blocks.size();
        if (chunk.kind != ChunkKind::verify) return {};
        // A page written since this backup started is WAL's business (replay rewrites it): such
        // a block proves nothing either way.
        if (out.newest_page_lsn >= start_lsn) return {};
        ++verified;
        const repo::BlockId& expected = chunk.previous->blocks[chunk.begin / block_size];
        if (out.blocks.size() == 1 && out.blocks[0] == expected) return {};
        if (mismatched++ == 0) {
            std::lock_guard guard(first_mismatch_lock);
            pass.first_mismatch = fmt::format("{} at offset {}", entry.path, chunk.begin);
        }
        return {};
    }));
    pass.bytes_read = bytes_done.load();
    pass.blocks_read = blocks_read.load();
    pass.verified = verified.load();
    pass.mismatched = mismatched.load();
    return pass;
}

Result<source::BaseBackupResult> PhysicalBaseBackup::copy(const repo::Manifest* previous,
                                                          source::ContentSink& sink,
                                                          const OperationContext& ctx) {
    const auto start = LB_TRY(postgres::start_backup(m_conn, "lifeboat"));
    source::BaseBackupResult result;
    repo::Manifest& manifest = result.manifest;
    std::error_code path_error;  // fs::absolute fails only without a current directory
    manifest.source = m_source;
    manifest.postgres.pgdata = fs::absolute(m_pgdata, path_error).string();
    manifest.postgres.wal_segment_size = m_cluster.wal_segment_size;
    manifest.postgres.data_checksums = m_cluster.data_checksums;
    manifest.postgres.block_size = m_cluster.block_size;
    manifest.start_time = start.start_time;
    manifest.start_lsn = start.start_lsn;
    manifest.start_wal = start.start_wal;
    manifest.timeline = start.timeline;

    LB_CHECK(ctx.stage("backup:files"));
    // pg_backup_start's checkpoint has just written every dirty page, moving the timestamps of
    // many files to a moment ago. Wait out the timestamp margin before reading anything, and
    // record when reading began: the next incremental's size-and-time rule compares against
    // that, so those files count as unchanged next time (before, comparing against start_time,
    // the next backup re-read every file this checkpoint had written: the "skip that missed").
    LB_CHECK(ctx.sleep_for(std::chrono::microseconds(k_subsecond_margin_micros)));
    manifest.postgres.files_from = ctx.now();
    const postgres::DataDirectoryScan scan = LB_TRY(postgres::scan_data_directory(m_pgdata));
    for (const auto& t : scan.tablespaces)
        manifest.postgres.tablespaces.push_back({t.oid, t.location});

    source::ReadFacts& facts = result.read;
    std::optional<postgres::WalSummary> changed;
    if (previous && m_request.type == BackupType::incremental) {
        facts.method = "timestamps";
        auto summarised = summaries_usable();
        if (summarised) {
            auto found = changes_since(*previous, start.start_lsn, start.timeline,
                                       m_cluster.wal_segment_size, m_pgdata, sink, ctx);
            if (found) {
                changed = std::move(*found);
                facts.method = "wal-summaries";
            } else {
                facts.fallback_reason = found.error();
            }
        } else {
            facts.fallback_reason = summarised.error();
        }
    }
    const auto start_lsn = postgres::parse_lsn(start.start_lsn).value_or(postgres::Lsn{}).value;
    std::random_device seed;
    SummaryPlan summary_plan{.changed = changed ? &*changed : nullptr,
                             .page_size = m_cluster.block_size,
                             .verify_share = m_request.verify_unchanged_share,
                             .seed = (std::uint64_t{seed()} << 32) | seed()};
    CopyPass pass = LB_TRY(copy_files(scan, previous, sink, summary_plan, start_lsn, ctx));
    if (pass.mismatched != 0) {
        // A skipped block that differs from the previous backup although no page of it is newer
        // than this backup's start: the summaries missed a change. Nothing skipped is trusted.
        result.warnings.push_back(fmt::format(
            "WAL summaries were wrong: {} of {} re-read blocks differ from the previous backup "
            "(first: {}); every file is read again",
            pass.mismatched, pass.verified, pass.first_mismatch));
        facts.mismatched_blocks = pass.mismatched;
        facts.verified_blocks = pass.verified;
        facts.method = "full";
        facts.fallback_reason = "WAL summaries were wrong (see the warning)";
        const std::uint64_t read_before = pass.bytes_read;
        pass = LB_TRY(
            copy_files(scan, previous, sink, SummaryPlan{}, start_lsn, ctx, BackupType::full));
        pass.bytes_read += read_before;
    } else {
        facts.verified_blocks = pass.verified;
        facts.skipped_blocks = pass.plan.skipped_blocks;
        facts.summarised_files = pass.plan.summarised_files;
    }
    const BackupPlan& plan = pass.plan;
    std::vector<ChunkResult>& results = pass.results;
    facts.read_blocks = pass.blocks_read;

    LB_CHECK(sink.keep_going());
    const auto stop = LB_TRY(postgres::stop_backup(m_conn));
    manifest.stop_time = stop.stop_time;
    manifest.stop_lsn = stop.stop_lsn;
    manifest.stop_wal = stop.stop_wal;
    manifest.postgres.backup_label = stop.backup_label;
    manifest.postgres.tablespace_map = stop.tablespace_map;
    ctx.report({"waiting for WAL archive", 0, 0});
    LB_CHECK(wait_for_wal(sink, m_conn, manifest.start_wal, manifest.stop_wal,
                          m_cluster.wal_segment_size, m_request.archive_timeout, ctx));

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
    manifest.stats.read_bytes = pass.bytes_read;
    for (auto& worker_failures : pass.failures) {
        for (auto& f : worker_failures)
            manifest.postgres.page_checksum_failures.push_back(std::move(f));
    }
    for (const auto& f : manifest.postgres.page_checksum_failures) {
        result.warnings.push_back(
            fmt::format("page checksum failure: {} block {}", f.path, f.block));
    }
    return result;
}

}  // namespace

Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request) {
    if (request.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn = LB_TRY(
        postgres::Connection::open(request.conninfo, {.statement = request.statement_timeout}));
    postgres::ClusterInfo cluster = LB_TRY(postgres::describe_cluster(conn));
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
                    request.repository_location);
    }
    fs::path pgdata =
        request.data_directory ? *request.data_directory : fs::path(cluster.data_directory);
    std::error_code ec;
    if (!fs::equivalent(pgdata, cluster.data_directory, ec)) {
        return fail(ErrorCode::usage,
                    "data directory {} is not the one the server at --pg uses ({})",
                    pgdata.string(), cluster.data_directory);
    }
    return std::make_unique<PhysicalBaseBackup>(request, std::move(conn), std::move(cluster),
                                                std::move(pgdata));
}

}  // namespace lifeboat::postgres_physical
