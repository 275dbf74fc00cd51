#include "sources/mongodb/change_stream.hpp"

#include "sources/mongodb/c_driver.hpp"

namespace lifeboat::mongodb {

struct ChangeStream::State {
    mongoc_change_stream_t* stream = nullptr;
    ~State() {
        if (stream) mongoc_change_stream_destroy(stream);
    }
};

ChangeStream::ChangeStream(std::unique_ptr<State> state) : m_state(std::move(state)) {}
ChangeStream::~ChangeStream() = default;
ChangeStream::ChangeStream(ChangeStream&&) noexcept = default;
ChangeStream& ChangeStream::operator=(ChangeStream&&) noexcept = default;

Result<ChangeStream> ChangeStream::open(const Client& client, const ChangeStreamStart& start) {
    Bson options;
    if (!start.resume_after_json.empty()) {
        const Bson token = LB_TRY(Bson::from_json(start.resume_after_json));
        BSON_APPEND_DOCUMENT(options.get(), "resumeAfter", token.get());
    } else if (start.at_operation_time_seconds) {
        BSON_APPEND_TIMESTAMP(options.get(), "startAtOperationTime",
                              *start.at_operation_time_seconds, 0);
    }
    BSON_APPEND_INT64(options.get(), "maxAwaitTimeMS", start.max_await.count());
    BSON_APPEND_INT32(options.get(), "batchSize", start.batch_size);
    // Updates carry their delta (updateDescription), which restore applies as $set/$unset: no
    // full-document lookup, which would read the document as it is later, not as it was.
    Bson pipeline;
    bson_t stages;
    BSON_APPEND_ARRAY_BEGIN(pipeline.get(), "pipeline", &stages);
    bson_append_array_end(pipeline.get(), &stages);
    auto state = std::make_unique<State>();
    state->stream = mongoc_client_watch(client.native(), pipeline.get(), options.get());
    if (!state->stream) return fail(ErrorCode::database, "cannot open a change stream");
    return ChangeStream(std::move(state));
}

Result<ChangeBatch> ChangeStream::next_batch(
    std::size_t max_events, std::optional<std::chrono::milliseconds> return_after) {
    ChangeBatch batch;
    std::chrono::steady_clock::time_point first_event;
    auto more = [&] {
        if (batch.events.size() >= max_events) return false;
        return !return_after || batch.events.empty() ||
               std::chrono::steady_clock::now() - first_event < *return_after;
    };
    const bson_t* doc = nullptr;
    while (more() && mongoc_change_stream_next(m_state->stream, &doc)) {
        if (batch.events.empty()) first_event = std::chrono::steady_clock::now();
        batch.events.push_back(Bson::copy_of(*doc));
    }
    bson_error_t error;
    const bson_t* reply = nullptr;
    if (mongoc_change_stream_error_document(m_state->stream, &error, &reply)) {
        if (error.code == k_change_stream_history_lost) {
            return fail(ErrorCode::outside_window,
                        "change-stream history lost (error 286 ChangeStreamHistoryLost: {}): the "
                        "resume point is older than the server keeps; a new base backup is needed",
                        error.message);
        }
        return fail(ErrorCode::database, "change stream: {} (error {})", error.message, error.code);
    }
    if (const bson_t* token = mongoc_change_stream_get_resume_token(m_state->stream))
        batch.resume_token_json = Bson::copy_of(*token).canonical_json();
    return batch;
}

Result<std::string> current_resume_token(const Client& client) {
    auto stream = LB_TRY(
        ChangeStream::open(client, {.max_await = std::chrono::milliseconds(10), .batch_size = 1}));
    // Events are not read: only the position after the server's (empty or not) first batch.
    const ChangeBatch batch = LB_TRY(stream.next_batch(0));
    if (batch.resume_token_json.empty())
        return fail(ErrorCode::database, "the server returned no change-stream resume token");
    return batch.resume_token_json;
}

Result<std::optional<std::uint32_t>> oldest_oplog_time(const Client& client) {
    // The server answers as reachable first, so a refused find below means no readable oplog.
    const Bson ping = LB_TRY(Bson::from_json(R"({"ping": 1})"));
    const Bson pong = LB_TRY(client.command("admin", ping));
    (void)pong;
    const Bson filter;
    const Bson options = LB_TRY(
        Bson::from_json(R"({"sort": {"$natural": 1}, "limit": 1, "projection": {"ts": 1}})"));
    std::optional<std::uint32_t> oldest;
    const Status found = client.find("local", "oplog.rs", filter, options, [&](DocumentRef doc) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc.doc, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
            std::uint32_t seconds = 0, increment = 0;
            bson_iter_timestamp(&it, &seconds, &increment);
            oldest = seconds;
        }
        return Status{};
    });
    if (!found) return std::optional<std::uint32_t>();
    return oldest;
}

}  // namespace lifeboat::mongodb
