// SourceDriver: one source kind (docs/architecture.md, "Source drivers"). The engine reaches a
// kind only through this interface and the LogArchive it hands out, and finds the driver by the
// kind its manifests name (registry.hpp); it never includes a driver. The CLI (and the agent)
// register the drivers they are built with, in one wiring file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "repository/repository.hpp"
#include "source/base_backup.hpp"
#include "source/log_archive.hpp"
#include "source/restore_target.hpp"
#include "source/validation.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::source {

// A source's log archiving as its server sees it, for the agent's RPO figures.
struct LogPosition {
    std::string current;        // the server's log position now (an LSN for PostgreSQL)
    std::string last_archived;  // the last log object the server archived ("" = none yet)
    // Log written but not archived yet: complete pieces waiting plus the current one's bytes.
    std::uint64_t bytes_behind = 0;
    std::uint64_t pieces_waiting = 0;  // complete pieces (WAL segments) waiting for archiving
    std::uint64_t failed_count = 0;    // the server's failed archive attempts
    // The next transaction id the server will assign, when it can tell: unchanged between
    // two probes, nothing holding data was written in between.
    std::optional<std::uint64_t> next_xid;
    // When the oldest change not archived yet was made, when the driver can tell (otherwise
    // the caller estimates it from successive probes).
    std::optional<Timestamp> oldest_unarchived_change;
};

// A slot-held log stream as its server sees it (probe_log_stream), for the agent's figures.
struct LogStreamPosition {
    std::string slot;
    bool active = false;                  // a client streams from the slot now
    std::string confirmed;                // the position the stream confirmed stored (LSN text)
    std::string current;                  // the server's log position now
    std::uint64_t retained_bytes = 0;     // log the server keeps for the slot (restart point on)
    std::uint64_t unconfirmed_bytes = 0;  // log past the confirmed position
    // As LogPosition::next_xid: unchanged between probes, nothing holding data was written.
    std::optional<std::uint64_t> next_xid;
    // Slot safety, when the server limits what a slot may retain (max_slot_wal_keep_size):
    // the slot's wal_status ("reserved", "extended", "unreserved", "lost"; "" when unknown),
    // the limit in bytes and safe_wal_size (bytes it may still fall behind before the server
    // invalidates it). nullopt: no limit, or unknown.
    std::string wal_status;
    std::optional<std::uint64_t> keep_limit_bytes;
    std::optional<std::uint64_t> safe_bytes;
    // A stream resumed from a point in a server-side history of limited age (a MongoDB oplog,
    // DocumentDB's change-stream log): how far back that history reaches now, and the age of
    // the stored resume point, in seconds. nullopt: not this kind, or unknown.
    std::optional<double> history_seconds;
    std::optional<double> resume_age_seconds;
};

// What one run or probe of a log stream is given.
struct LogStreamRequest {
    std::string conninfo;
    std::string slot;  // "" = the kind's own choice
    // How far back the server's change history reaches when the server cannot tell (Amazon
    // DocumentDB's change_stream_log_retention_duration); nullopt: unknown.
    std::optional<std::chrono::seconds> history_limit;
};

// How one run of a log stream ended (cancellation is the normal end).
struct LogStreamSummary {
    std::string text;  // one line for the agent's history
    std::uint64_t commits = 0;
    double lag_p50_seconds = 0;  // commit-to-stored lag of the commits this run stored
};

class SourceDriver {
  public:
    virtual ~SourceDriver() = default;
    // The kind it handles, as manifests name it ("postgres-physical").
    virtual std::string_view kind() const = 0;
    // Its log: window, copy, verify, expire and restore go through it.
    virtual const LogArchive& log_archive() const = 0;

    // Connects to the source for one backup (checks it can be backed up: version, settings).
    virtual Result<std::unique_ptr<BaseBackup>> open_base_backup(
        const BaseBackupRequest& request) const = 0;

    // Checks a running instance of this kind (a restored one, typically): source/validation.hpp
    // says what a report holds; the driver's own header what it checks. Errors only for what
    // stopped the checks (no connection, unreadable checks or baseline files).
    virtual Result<ValidationReport> validate(const ValidateOptions& options) const = 0;

    // The target half of a restore into a new instance (restore_target.hpp).
    virtual std::unique_ptr<RestoreTarget> restore_target(RestoreRequest request) const = 0;

    // Whether a restore of this kind loads into a running server it is given
    // (RestoreRequest::target_conninfo, required) instead of making a new instance in a
    // directory (false, the default): a drill then needs that server.
    virtual bool needs_target_server() const { return false; }

    // The newest commit a running instance holds, when it can tell (a drill's measured RPO).
    virtual std::optional<Timestamp> newest_commit(const std::string& conninfo,
                                                   std::chrono::seconds statement_limit) const = 0;

    // The source's archiving now (a short connection to `conninfo`). nullopt when this kind
    // archives its log itself, with no server-side queue to watch (the default); an error when
    // the source cannot be asked.
    virtual Result<std::optional<LogPosition>> probe_log_position(
        const std::string& conninfo) const {
        (void)conninfo;
        return std::optional<LogPosition>();
    }

    // Whether this kind's log is a stream a long-running process must run (run_log_stream)
    // rather than something the server archives itself (false, the default).
    virtual bool has_log_stream() const { return false; }
    // Whether a source of this kind may turn a log stream on although its server archives the
    // log itself (postgres-physical: wal-stream; a source's wal_stream = true). A kind whose
    // log is a stream offers it too.
    virtual bool offers_log_stream() const { return has_log_stream(); }

    // Runs the kind's log stream into `repository` from `request` until `ctx` is cancelled
    // (then what it holds is stored and the summary returned) or a failure (the error). The
    // default: ErrorCode::usage, this kind has no stream.
    virtual Result<LogStreamSummary> run_log_stream(repo::Repository& repository,
                                                    const LogStreamRequest& request,
                                                    const OperationContext& ctx) const {
        (void)repository;
        (void)request;
        (void)ctx;
        return fail(ErrorCode::usage, "source kind {} has no log stream to capture", kind());
    }

    // The stream's slot on the source (a short connection): nullopt when this kind has no
    // stream (the default) or the slot does not exist yet; an error when the source cannot be
    // asked.
    virtual Result<std::optional<LogStreamPosition>> probe_log_stream(
        const repo::Repository& repository, const LogStreamRequest& request) const {
        (void)repository;
        (void)request;
        return std::optional<LogStreamPosition>();
    }

    // Log bytes a restore of `backup` to the end of `window`'s archive replays: from the piece
    // holding its start to the window's last archived piece (0 when unknown, the default).
    virtual std::uint64_t log_bytes_to_end(const repo::Manifest& backup,
                                           const RestorableWindow& window) const {
        (void)backup;
        (void)window;
        return 0;
    }

    // Stops, for certain, an instance a restore started in `directory` (found with `how`'s
    // programs and account): gently first, then by force after a grace period. Returns a note
    // when it had to force it ("" otherwise); an error when it may still run (then its
    // directory must be kept, never removed under a live server).
    virtual Result<std::string> stop_instance(const fs::path& directory,
                                              const RestoreRequest& how) const = 0;
};

}  // namespace lifeboat::source
