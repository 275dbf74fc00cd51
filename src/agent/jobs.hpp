// JobRunner: the agent's one doorway into the engine. Each job kind is one method; jobs.cpp is
// the only file of the agent that calls engine operations or talks to the source, so tests of
// the scheduler, alerts and metrics substitute a fake runner, and a change of the engine's
// signatures is a change of that one file.
//
// Every method may block for as long as the operation takes; it is called from the source's
// own scheduler thread (jobs) or the monitor thread (catalog, probe), never from an HTTP thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::agent {

struct JobOutcome {
    std::uint64_t bytes = 0;  // stored by a backup, copied, freed by expire, read by verify
    std::string summary;      // one line for the history
    // Drills only: whether its checks passed, its measured RTO, and the replay it measured
    // (WAL bytes from the backup's start to the archive's end, and the seconds replay took).
    std::optional<bool> passed;
    std::optional<double> rto_seconds;
    std::uint64_t replay_bytes = 0;
    double replay_seconds = 0;
    // Captures only: the commit-to-stored lag (p50) of the commits the run stored.
    std::optional<double> lag_seconds;
};

struct BackupSummary {
    std::string id;
    Timestamp start;
    Timestamp stop;
    double duration_seconds = 0;
    std::uint64_t stored_bytes = 0;
    std::uint64_t data_bytes = 0;
};

struct DrillSummary {
    std::string id;
    Timestamp started;
    bool passed = false;
    double rto_seconds = 0;
    double replay_seconds = 0;
    std::string error;
};

// What the metrics, page and alerts need from a repository, read once per refresh.
struct CatalogSummary {
    std::string repository;
    std::vector<BackupSummary> backups;  // oldest first
    std::optional<Timestamp> window_start;
    std::optional<Timestamp> window_end;
    bool window_gap = false;
    std::size_t wal_files = 0;
    // WAL a restore of the newest backup to the end of the archive replays: from the segment
    // holding its start to the last archived segment of its run (0 when unknown).
    std::uint64_t wal_since_newest_backup_bytes = 0;
    std::uint64_t stored_bytes = 0;
    std::uint64_t logical_bytes = 0;
    std::optional<DrillSummary> last_drill;
    std::optional<DrillSummary> last_good_drill;
    Timestamp loaded_at;
    double load_seconds = 0;  // how long reading it took (lifeboat_catalog_load_seconds)
};

// The source's archiving as the server sees it (its driver's LogPosition, source/driver.hpp).
struct SourceProbe {
    std::string current_lsn;
    std::string last_archived_wal;
    // Complete segments waiting for the archiver plus the bytes of the current segment.
    std::uint64_t lag_bytes = 0;
    std::uint64_t failed_count = 0;
    // Complete segments waiting for the archiver (the rest of lag_bytes is the current segment).
    std::uint64_t ready_segments = 0;
    // The next transaction id the server will assign: unchanged, no transaction has written
    // since (nothing but PostgreSQL's own bookkeeping records, which hold no data).
    std::optional<std::uint64_t> next_xid;
    // When the oldest unarchived change was made, when the driver can tell.
    std::optional<Timestamp> oldest_unarchived_change;
    // A source whose kind has a log stream (the logical capture): its slot's figures. Then
    // current_lsn is the server's position, last_archived_wal the position the stream
    // confirmed stored and lag_bytes the WAL past it (so the RPO figures read the same).
    bool stream = false;
    std::uint64_t slot_retained_bytes = 0;  // WAL the source keeps for the slot
    bool slot_active = false;
    // The slot's safety (source/driver.hpp, LogStreamPosition): wal_status, the server's
    // max_slot_wal_keep_size and safe_wal_size in bytes (nullopt: unlimited or unknown).
    std::string slot_wal_status;
    std::optional<std::uint64_t> slot_keep_limit_bytes;
    std::optional<std::uint64_t> slot_safe_bytes;
    // A stream resumed from a server-side history of limited age (LogStreamPosition): the
    // history's reach and the stored resume point's age, seconds.
    std::optional<double> history_seconds;
    std::optional<double> resume_age_seconds;
};

class JobRunner {
  public:
    virtual ~JobRunner() = default;
    virtual Result<JobOutcome> backup(const SourceSpec& source, const OperationContext& ctx) = 0;
    virtual Result<JobOutcome> expire(const SourceSpec& source, const OperationContext& ctx) = 0;
    virtual Result<JobOutcome> copy(const SourceSpec& source, const OperationContext& ctx) = 0;
    virtual Result<JobOutcome> verify(const SourceSpec& source, const OperationContext& ctx) = 0;
    // `target`: a duration before now ("1h") or "latest"; `checks`: the user checks ("" none).
    virtual Result<JobOutcome> drill(const SourceSpec& source, const std::string& target,
                                     const fs::path& checks, const OperationContext& ctx) = 0;
    virtual Result<CatalogSummary> load_catalog(const SourceSpec& source,
                                                const std::string& repository) = 0;
    // The source's archiving, through its kind's driver; nullopt when the kind has no
    // server-side archive queue to watch. For a kind with a log stream: its slot's figures
    // (nullopt while the slot does not exist).
    virtual Result<std::optional<SourceProbe>> probe(const SourceSpec& source) = 0;

    // Whether the source has a log stream the agent runs continuously (capture): its kind's
    // log is one, or it turned wal-stream on (SourceSpec::wal_stream).
    virtual bool has_log_stream(const SourceSpec& source) {
        (void)source;
        return false;
    }
    // Runs the stream until ctx is cancelled (the normal end: the outcome) or a failure. Called
    // from the source's capture thread; ctx.progress is called after each stored object.
    virtual Result<JobOutcome> capture(const SourceSpec& source, const OperationContext& ctx) {
        (void)source;
        (void)ctx;
        return fail(ErrorCode::usage, "source kind {} has no log stream", source.kind);
    }
};

// The runner over the real engine and the source drivers (registered by the program).
// Opens the repository at a location with its key (the program's own rule for keys).
using RepositoryOpener = std::function<Result<repo::Repository>(const std::string& location)>;

// The runner over the real engine; `open` opens every repository a job works on.
std::unique_ptr<JobRunner> make_engine_job_runner(RepositoryOpener open);

}  // namespace lifeboat::agent
