// Capture: the change stream of a mongodb source, stored in a repository as change-log objects
// (change_log.hpp, docs/repository-format.md "mongodb change log") until cancelled. The CLI's
// `lifeboat capture --source-kind mongodb` calls it.
//
// What it does:
// - Finds where to continue: the end of the chain of stored objects from the newest mongodb
//   backup's start point (log_archive.hpp), resuming after the resume token its last object
//   stores; else that backup's recorded start token. Refuses with ErrorCode::not_found when the
//   repository holds no mongodb backup or the newest recorded no change-stream position, and
//   with ErrorCode::outside_window when the chain ends at a gap (a new base backup is needed).
// - Opens a cluster-wide change stream (sources/mongodb/change_stream.hpp) resuming after that
//   token; the first object of the session starts with a session-start record. Events are held
//   and stored as one object (repo::push_wal: durable once it returns) `flush_interval` after the
//   first held one, or when `object_size_bound` bytes are held; each object ends with the resume
//   token after its last event, so a restart resumes after what is stored and nothing else. An
//   object never ends inside the cluster time it starts at (events of one transaction share
//   one), except when the capture stops.
// - A quiet stream: when no event came for 60 flush intervals (a minute by default) and the
//   server's resume token moved on, an object holding only that token is stored, so the stored
//   resume point stays inside the server's history (and the agent's change_history figure true).
// - History lost (ErrorCode::outside_window from the stream, error 286): what is held is stored,
//   then a gap object at the stored end, and the error is returned saying a new base backup is
//   needed. Other stream failures store what is held and return the error.
// - On cancellation (ctx's token: SIGTERM/SIGINT in the CLI) it stores what it holds and returns
//   the summary: cancellation is the normal end.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::mongodb_driver {

struct CaptureOptions {
    std::string uri;  // the source (a replica set or DocumentDB cluster)
    std::chrono::milliseconds flush_interval{1000};
    std::size_t object_size_bound = 16u * 1024 * 1024;
};

// Event-to-stored lag of every event stored in this run: the time push_wal returned minus the
// event's wallTime (else its cluster time's seconds); same clock assumed; seconds.
struct LagFigures {
    std::uint64_t events = 0;
    double p50 = 0;
    double p99 = 0;
    double max = 0;
};

struct CaptureSummary {
    std::string started_from;   // cluster time "seconds.increment" of the start point
    std::string resumed_after;  // the resume token the stream opened with
    std::string stored_end;     // the <end> of the last object stored ("seconds.increment")
    std::uint64_t objects = 0;
    std::uint64_t events = 0;
    std::uint64_t stored_bytes = 0;  // object content before compression
    std::string gap;                 // the gap object stored, when history was lost
    // Objects holding only the server's advanced resume token, stored while the stream was quiet.
    std::uint64_t quiet_tokens = 0;
    LagFigures lag;
};

// Captures until `ctx` is cancelled (then returns the summary) or a failure (the error; every
// object stored before it stays stored, and the next run resumes after it).
Result<CaptureSummary> run_capture(repo::Repository& repository, const CaptureOptions& options,
                                   const OperationContext& ctx);

// Where the next capture would resume (cluster time, seconds<<32 | increment): the end of the
// stored chain after the newest backup, else that backup's start. Errors as run_capture's
// start: ErrorCode::not_found (no backup, or none with a position), outside_window (lost).
Result<std::uint64_t> stored_resume_position(const repo::Repository& repository);

}  // namespace lifeboat::mongodb_driver
