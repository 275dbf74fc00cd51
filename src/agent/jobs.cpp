// The one file of the agent that calls engine operations (see jobs.hpp). Each job opens the
// repositories it works on through the opener the program gave (keys included) and hands the
// job's context to the operation: its clock, progress and cancellation (a stopping agent
// cancels the running job, which then releases its locks like an interrupted command).
#include "agent/jobs.hpp"

#include <charconv>

#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/copy.hpp"
#include "engine/drill.hpp"
#include "engine/expire.hpp"
#include "engine/verify.hpp"
#include "engine/window.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/archiver.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::agent {

namespace {

// WAL bytes from the segment holding `start_lsn` to the end of segment `last_segment`
// (TTTTTTTTLLLLLLLLSSSSSSSS); 0 when either cannot be read.
std::uint64_t wal_bytes_between(const std::string& start_lsn, const std::string& last_segment,
                                std::uint64_t segment_size) {
    const auto start = postgres::parse_lsn(start_lsn);
    if (!start || last_segment.size() != 24 || segment_size == 0) return 0;
    std::uint64_t log = 0;
    std::uint64_t seg = 0;
    const char* name = last_segment.data();
    if (std::from_chars(name + 8, name + 16, log, 16).ec != std::errc() ||
        std::from_chars(name + 16, name + 24, seg, 16).ec != std::errc()) {
        return 0;
    }
    const std::uint64_t last = log * (0x100000000ULL / segment_size) + seg;
    const std::uint64_t first = start->value / segment_size;
    return last >= first ? (last - first + 1) * segment_size : 0;
}

std::uint64_t wal_since(const engine::Catalog& catalog, const std::string& backup_id) {
    for (const auto& m : catalog.backups) {
        if (m.id == backup_id) {
            return wal_bytes_between(m.start_lsn, catalog.window.last_segment,
                                     m.postgres.wal_segment_size);
        }
    }
    return 0;
}

DrillSummary summary_of(const engine::DrillRecord& r) {
    return {r.id, r.started, r.passed, r.total_seconds, r.replay_seconds, r.error};
}

class EngineJobRunner final : public JobRunner {
  public:
    explicit EngineJobRunner(RepositoryOpener open) : m_open(std::move(open)) {}

    Result<JobOutcome> backup(const SourceSpec& source, const OperationContext& ctx) override {
        repo::Repository repository = LB_TRY(m_open(source.repository));
        engine::BackupOptions options;
        options.source_kind = source.kind;
        options.conninfo = source.conninfo;
        options.pgdata = source.pgdata;
        options.jobs = source.jobs;
        options.archive_timeout = source.archive_timeout;
        options.pg_timeout = source.pg_timeout;
        options.tags["scheduled-by"] = "agent";
        const auto outcome = LB_TRY(engine::run_backup(repository, options, ctx));
        const auto& m = outcome.manifest;
        return JobOutcome{.bytes = m.stats.stored_bytes,
                          .summary = fmt::format("backup {}: {} bytes of data, {} stored", m.id,
                                                 m.stats.data_bytes, m.stats.stored_bytes)};
    }

    Result<JobOutcome> expire(const SourceSpec& source, const OperationContext& ctx) override {
        repo::Repository repository = LB_TRY(m_open(source.repository));
        engine::ExpireOptions options;
        options.policy = source.retention;
        options.jobs = source.jobs;
        const auto o = LB_TRY(engine::run_expire(repository, options, ctx));
        return JobOutcome{.bytes = o.freed_bytes(),
                          .summary = fmt::format("expired {} backup(s), {} WAL file(s)",
                                                 o.expired.size(), o.wal_removed.size())};
    }

    Result<JobOutcome> copy(const SourceSpec& source, const OperationContext& ctx) override {
        if (source.copy_to.empty()) {
            return fail(ErrorCode::config,
                        "schedule.copy is set but no repository has copy_after_backup = true");
        }
        JobOutcome out;
        repo::Repository from = LB_TRY(m_open(source.repository));
        for (const auto& to : source.copy_to) {
            repo::Repository destination = LB_TRY(m_open(to));
            engine::CopyOptions options;
            options.jobs = source.jobs;
            const auto o = LB_TRY(engine::run_copy(from, destination, options, ctx));
            out.bytes += o.bytes_copied;
            out.summary +=
                fmt::format("{}copied {} backup(s) to {}", out.summary.empty() ? "" : "; ",
                            o.copied_backups.size(), to);
        }
        return out;
    }

    Result<JobOutcome> verify(const SourceSpec& source, const OperationContext& ctx) override {
        repo::Repository repository = LB_TRY(m_open(source.repository));
        engine::VerifyOptions options;
        options.jobs = source.jobs;
        const auto report = LB_TRY(engine::run_verify(repository, options, ctx));
        if (!report.ok()) {
            return fail(ErrorCode::check_failed, "verify found {} problem(s); first: {}: {}",
                        report.problems.size(), report.problems.front().object,
                        report.problems.front().message);
        }
        return JobOutcome{.bytes = 0,
                          .summary = fmt::format("verified {} backup(s), {} packs, {} WAL files",
                                                 report.backups, report.packs, report.wal_files)};
    }

    Result<JobOutcome> drill(const SourceSpec& source, const std::string& target,
                             const fs::path& checks, const OperationContext& ctx) override {
        repo::Repository repository = LB_TRY(m_open(source.repository));
        engine::DrillOptions options;
        options.repository_location = source.repository;
        if (target == "latest") {
            options.target = LB_TRY(engine::parse_target("latest", "", ctx.now()));
        } else {
            options.target = LB_TRY(engine::parse_target("", target, ctx.now()));
        }
        options.pg_timeout = source.pg_timeout;
        if (!checks.empty()) options.checks_file = checks;
        options.lifeboat_binary = source.lifeboat_binary;
        options.key_file = source.key_file;
        options.pg_bin = source.pg_bin;
        options.run_as_user = source.run_as_user;
        options.jobs = source.jobs;
        const auto record = LB_TRY(engine::run_drill(repository, options, ctx));
        // What the drill replayed, for the RTO estimate: the archive as it is now, from the
        // start of the backup the drill chose (an upper bound for a target before the end).
        std::uint64_t replayed = 0;
        if (auto catalog = engine::load_catalog(repository))
            replayed = wal_since(*catalog, record.backup_id);
        JobOutcome out{.bytes = 0,
                       .summary = fmt::format("drill {} to {}: {}", record.id,
                                              engine::describe_target(options.target),
                                              record.passed ? "passed" : "FAILED"),
                       .passed = record.passed,
                       .rto_seconds = record.total_seconds,
                       .replay_bytes = replayed,
                       .replay_seconds = record.replay_seconds};
        if (!record.passed) {
            // The reason a person on call needs: the error, else the first failed check.
            std::string why = record.error;
            std::size_t failed = 0;
            for (const auto& c : record.checks) {
                if (c.passed || c.skipped) continue;
                if (failed++ == 0 && why.empty())
                    why = fmt::format("check '{}' failed: {}", c.name, c.detail);
            }
            if (failed > 1) why += fmt::format(" ({} checks failed)", failed);
            return fail(ErrorCode::check_failed, "drill {} failed{}{}", record.id,
                        why.empty() ? "" : ": ", why);
        }
        return out;
    }

    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repository) override {
        const repo::Repository opened = LB_TRY(m_open(repository));
        const auto catalog = LB_TRY(engine::load_catalog(opened));
        CatalogSummary out;
        out.repository = repository;
        for (const auto& m : catalog.backups) {
            out.backups.push_back({m.id, m.start_time, m.stop_time, m.stats.duration_seconds,
                                   m.stats.stored_bytes, m.stats.data_bytes});
        }
        out.window_start = catalog.window.earliest;
        out.window_end = catalog.window.latest;
        out.window_gap = catalog.window.gap;
        out.wal_files = catalog.window.wal_files;
        if (!catalog.backups.empty())
            out.wal_since_newest_backup_bytes = wal_since(catalog, catalog.backups.back().id);
        out.stored_bytes = catalog.stored_bytes;
        out.logical_bytes = catalog.logical_bytes;
        // Drill records are few (one per drill); a damaged one is left out, as `drills` does.
        if (auto drills = engine::read_drills(opened)) {
            for (const auto& d : *drills) {
                if (!out.last_drill || d.started > out.last_drill->started)
                    out.last_drill = summary_of(d);
                if (d.passed && (!out.last_good_drill || d.started > out.last_good_drill->started))
                    out.last_good_drill = summary_of(d);
            }
        }
        return out;
    }

    Result<SourceProbe> probe(const SourceSpec& source) override {
        auto conn = LB_TRY(postgres::Connection::open(source.conninfo, {}));
        const auto archiver = LB_TRY(postgres::archiver_status(conn));
        const std::string current = LB_TRY(conn.query_value("select pg_current_wal_lsn()::text"));
        const std::string segment_size = LB_TRY(
            conn.query_value("select setting from pg_settings where name = 'wal_segment_size'"));
        // Complete segments waiting for the archiver (pg_ls_archive_statusdir: superuser or
        // pg_monitor). Counting them, rather than comparing with last_archived_wal, is right
        // whatever the archiver did last (a .backup or .history file has another name).
        const std::string ready =
            LB_TRY(conn.query_value("select count(*) from pg_ls_archive_statusdir() where name ~ "
                                    "'^[0-9A-F]{24}\\.ready$'"));
        SourceProbe out;
        out.current_lsn = current;
        out.last_archived_wal = archiver.last_archived_wal;
        out.failed_count = archiver.failed_count;
        const auto lsn = postgres::parse_lsn(current);
        std::uint64_t size = 0;
        std::uint64_t waiting = 0;
        std::from_chars(segment_size.data(), segment_size.data() + segment_size.size(), size);
        std::from_chars(ready.data(), ready.data() + ready.size(), waiting);
        if (!lsn || size == 0) {
            return fail(ErrorCode::database, "unexpected WAL position '{}' or segment size '{}'",
                        current, segment_size);
        }
        // The segments waiting, and what the current segment holds: it is archived only once
        // complete (archive_timeout bounds how long that takes on a quiet server).
        out.lag_bytes = waiting * size + lsn->value % size;
        out.ready_segments = waiting;
        // A quiet server keeps writing small bookkeeping records (running transactions,
        // checkpoints) that archive_timeout does not switch for; no transaction id is assigned
        // for them, so an unchanged next id says the current segment holds no new data.
        if (auto next = conn.query_value("select txid_snapshot_xmax(txid_current_snapshot())")) {
            std::uint64_t xid = 0;
            if (std::from_chars(next->data(), next->data() + next->size(), xid).ec == std::errc())
                out.next_xid = xid;
        }
        return out;
    }

  private:
    RepositoryOpener m_open;
};

}  // namespace

std::unique_ptr<JobRunner> make_engine_job_runner(RepositoryOpener open) {
    return std::make_unique<EngineJobRunner>(std::move(open));
}

}  // namespace lifeboat::agent
