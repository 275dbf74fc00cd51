// Capture: the change stream of a postgres-logical source, stored in a repository as log
// objects (change_log.hpp, docs/repository-format.md "Logical change log") until cancelled.
// The CLI's `lifeboat capture` and the agent call the same function.
//
// What it does:
// - Finds where to continue: the end of the gap-free chain of stored objects from the newest
//   logical backup's consistent point (chain.hpp), else that point. Refuses with
//   ErrorCode::not_found when the repository holds no logical backup, or when the backups'
//   slot is missing on the source (a new base backup creates it), and ErrorCode::conflict while
//   another process uses the slot.
// - START_REPLICATION SLOT <slot> LOGICAL <position> (proto_version '2', streaming 'on',
//   messages 'true', publication_names 'lifeboat') on a replication connection; every pgoutput
//   message becomes an M record, cut into objects by ChangeLogCutter at transaction boundaries,
//   at the latest `flush_interval` after the first message it holds (sooner when the stream
//   pauses for 100 ms), or when `object_size_bound` bytes are held.
// - Each object is stored with repo::push_wal (durable once it returns) and only then confirmed
//   to the server (standby status update with the object's <end>): the slot never passes what
//   is stored. While nothing is held and no transaction is open, the server's reported position
//   is confirmed instead, so an idle database's slot retains no WAL.
// - Sequences are sampled every `sample_interval` and before each object is cut
//   (sequence_sampler.hpp); with `heartbeat_interval` set, a non-transactional
//   pg_logical_emit_message(false, 'lifeboat.heartbeat', '') is emitted that often, so that the
//   slot of a quiet database on a busy cluster advances too (heartbeats are not stored).
// - On cancellation (ctx's token: SIGTERM/SIGINT in the CLI) it cuts and stores what it holds
//   at a boundary (a transaction still open is dropped: the server sends it again to the next
//   session) and returns the summary: cancellation is the normal end.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::postgres_logical {

struct CaptureOptions {
    std::string conninfo;  // the replication role, naming the database the backups copied
    std::chrono::milliseconds flush_interval{1000};
    std::chrono::milliseconds sample_interval{5000};
    std::chrono::milliseconds heartbeat_interval{0};  // 0: none
    std::size_t object_size_bound = 64u * 1024 * 1024;
    std::chrono::seconds statement_timeout{60};
};

// Commit-to-stored lag of every commit stored in this run: the time push_wal returned minus
// the commit time the server reported (same clock assumed; seconds).
struct LagFigures {
    std::uint64_t commits = 0;
    double p50 = 0;
    double p99 = 0;
    double max = 0;
};

struct CaptureSummary {
    std::string slot;
    std::string started_from;  // LSN text
    std::string stored_end;    // the <end> of the last object stored (LSN text)
    std::string confirmed;     // the last position confirmed to the server
    std::uint64_t objects = 0;
    std::uint64_t commits = 0;
    std::uint64_t messages = 0;
    std::uint64_t stored_bytes = 0;  // object content before compression
    std::uint64_t sequence_samples = 0;
    std::vector<std::string> warnings;
    LagFigures lag;
};

// Captures until `ctx` is cancelled (then returns the summary) or a failure (the error; every
// object stored before it stays stored and confirmed, and the next run continues after it).
Result<CaptureSummary> run_capture(repo::Repository& repository, const CaptureOptions& options,
                                   const OperationContext& ctx);

// p50/p99/max of `lags` (seconds), nearest rank.
LagFigures lag_figures(std::vector<double> lags);

}  // namespace lifeboat::postgres_logical
