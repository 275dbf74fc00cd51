// The one file of the agent that calls engine operations (see jobs.hpp). Each job opens the
// repositories it works on through the opener the program gave (keys included) and hands the
// job's context to the operation: its clock, progress and cancellation (a stopping agent
// cancels the running job, which then releases its locks like an interrupted command).
#include "agent/jobs.hpp"

#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/copy.hpp"
#include "engine/drill.hpp"
#include "engine/expire.hpp"
#include "engine/verify.hpp"
#include "engine/window.hpp"
#include "repository/repository.hpp"
#include "source/registry.hpp"

namespace lifeboat::agent {

namespace {

// WAL a restore of backup `backup_id` to the end of the archive replays, as the repository's
// source kind measures it (0 when unknown).
std::uint64_t wal_since(const engine::Catalog& catalog, const std::string& backup_id) {
    for (const auto& m : catalog.backups) {
        if (m.id != backup_id) continue;
        const auto driver = source::driver_for(m.source.kind);
        return driver ? (*driver)->log_bytes_to_end(m, catalog.window) : 0;
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

    bool has_log_stream(const SourceSpec& source) override {
        const auto driver = source::driver_for(source.kind);
        if (!driver) return false;
        return (*driver)->has_log_stream() || (source.wal_stream && (*driver)->offers_log_stream());
    }

    Result<JobOutcome> capture(const SourceSpec& source, const OperationContext& ctx) override {
        const source::SourceDriver* driver = LB_TRY(source::driver_for(source.kind));
        repo::Repository repository = LB_TRY(m_open(source.repository));
        const auto s = LB_TRY(driver->run_log_stream(repository, stream_request(source), ctx));
        JobOutcome out{.bytes = 0, .summary = s.text};
        if (s.commits > 0) out.lag_seconds = s.lag_p50_seconds;
        return out;
    }

    Result<std::optional<SourceProbe>> probe(const SourceSpec& source) override {
        const source::SourceDriver* driver = LB_TRY(source::driver_for(source.kind));
        if (driver->has_log_stream() || (source.wal_stream && driver->offers_log_stream()))
            return probe_stream(*driver, source);
        const auto position = LB_TRY(driver->probe_log_position(source.conninfo));
        if (!position) return std::optional<SourceProbe>();
        return std::optional<SourceProbe>(SourceProbe{
            .current_lsn = position->current,
            .last_archived_wal = position->last_archived,
            .lag_bytes = position->bytes_behind,
            .failed_count = position->failed_count,
            .ready_segments = position->pieces_waiting,
            .next_xid = position->next_xid,
            .oldest_unarchived_change = position->oldest_unarchived_change,
        });
    }

  private:
    static source::LogStreamRequest stream_request(const SourceSpec& source) {
        return source::LogStreamRequest{
            .conninfo = source.conninfo,
            .slot = source.wal_stream ? source.wal_stream_slot : std::string(),
            .history_limit = source.change_history};
    }

    Result<std::optional<SourceProbe>> probe_stream(const source::SourceDriver& driver,
                                                    const SourceSpec& source) {
        const repo::Repository repository = LB_TRY(m_open(source.repository));
        const auto position = LB_TRY(driver.probe_log_stream(repository, stream_request(source)));
        if (!position) return std::optional<SourceProbe>();
        return std::optional<SourceProbe>(SourceProbe{
            .current_lsn = position->current,
            .last_archived_wal = position->confirmed,
            .lag_bytes = position->unconfirmed_bytes,
            .failed_count = 0,
            .ready_segments = 0,
            .next_xid = position->next_xid,
            .oldest_unarchived_change = std::nullopt,
            .stream = true,
            .slot_retained_bytes = position->retained_bytes,
            .slot_active = position->active,
            .slot_wal_status = position->wal_status,
            .slot_keep_limit_bytes = position->keep_limit_bytes,
            .slot_safe_bytes = position->safe_bytes,
            .history_seconds = position->history_seconds,
            .resume_age_seconds = position->resume_age_seconds,
        });
    }

    RepositoryOpener m_open;
};

}  // namespace

std::unique_ptr<JobRunner> make_engine_job_runner(RepositoryOpener open) {
    return std::make_unique<EngineJobRunner>(std::move(open));
}

}  // namespace lifeboat::agent
