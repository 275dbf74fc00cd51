// ChangeStream: a cluster-wide change stream ($changeStream with allChangesForCluster, through
// mongoc_client_watch) read in batches, each ending with the resume token to persist with what
// was stored: the last event's _id, or the server's postBatchResumeToken once a batch is drained
// (so a quiet cluster's token still advances). libmongoc resumes once by itself after a
// resumable error (a dropped connection, a primary step-down); what it cannot resume is an error.
//
// History lost (error 286 ChangeStreamHistoryLost: the resume point is older than the oplog or
// DocumentDB's change_stream_log_retention_duration) is ErrorCode::outside_window, so the caller
// records a gap and asks for a new base backup; every other failure is ErrorCode::database with
// the server's message (DocumentDB's "change streams are not enabled" included).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sources/mongodb/bson.hpp"
#include "sources/mongodb/client.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb {

inline constexpr int k_change_stream_history_lost = 286;

// Where a stream starts: after a stored resume token, at an operation time, or now.
struct ChangeStreamStart {
    std::string resume_after_json;  // canonical extended JSON of a resume token ("" = none)
    std::optional<std::uint32_t> at_operation_time_seconds;  // a cluster time (seconds part)
    std::chrono::milliseconds max_await{1000};  // how long the server waits for events per batch
    std::int32_t batch_size = 1000;
};

struct ChangeBatch {
    std::vector<Bson> events;       // in cluster-time order
    std::string resume_token_json;  // after the last event (or the whole batch)
};

class ChangeStream {
  public:
    // Opens the stream on `client` (which must outlive it). The server answers the aggregate
    // only at the first next_batch: errors of the open itself come from there.
    static Result<ChangeStream> open(const Client& client, const ChangeStreamStart& start);
    ~ChangeStream();
    ChangeStream(ChangeStream&&) noexcept;
    ChangeStream& operator=(ChangeStream&&) noexcept;

    // The events the server has now, at most `max_events`; waits up to max_await when there are
    // none (then the batch is empty and its token the server's postBatchResumeToken). With
    // `return_after`, it returns once it holds an event and that long has passed since the first
    // one arrived (a busy stream never pauses, so without it a call returns only at
    // `max_events`): the events of one server batch, which arrive together, stay in one
    // ChangeBatch however long the server took to send them.
    Result<ChangeBatch> next_batch(
        std::size_t max_events,
        std::optional<std::chrono::milliseconds> return_after = std::nullopt);

  private:
    struct State;
    explicit ChangeStream(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
};

// The cluster's change stream position now: the resume token of a stream opened now (the
// server's postBatchResumeToken), for a base backup to record where its dump began and ended.
// ErrorCode::database when the server has no change streams.
Result<std::string> current_resume_token(const Client& client);

// The cluster time (seconds) of the oldest entry of the server's oplog (local.oplog.rs): how far
// back a change stream can resume on MongoDB. nullopt when the server has no readable oplog
// (Amazon DocumentDB keeps its change-stream log elsewhere; a role without read on `local`), so
// the caller falls back to a configured history; ErrorCode::database when the server cannot be
// reached.
Result<std::optional<std::uint32_t>> oldest_oplog_time(const Client& client);

}  // namespace lifeboat::mongodb
