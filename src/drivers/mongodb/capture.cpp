#include "drivers/mongodb/capture.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "drivers/mongodb/change_log.hpp"
#include "drivers/mongodb/log_archive.hpp"
#include "repository/manifest.hpp"
#include "repository/wal_archive.hpp"
#include "sources/mongodb/change_stream.hpp"
#include "sources/mongodb/client.hpp"

namespace lifeboat::mongodb_driver {

namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t k_batch_events = 1000;
// A stream failure other than lost history (libmongoc already retried once): the stream is
// opened again after the last token held, this many times in a row at most.
constexpr int k_reopen_attempts = 5;
constexpr std::chrono::milliseconds k_reopen_pause{1000};

struct StartPoint {
    std::uint64_t position = 0;
    std::string token;  // canonical extended JSON
    std::string backup_id;
};

Result<StartPoint> find_start(const repo::Repository& repository) {
    const auto manifests = LB_TRY(repo::read_all_manifests(repository.storage()));
    const repo::Manifest* newest = nullptr;
    for (const auto& m : manifests) {
        if (m.source.kind != repo::k_kind_mongodb) continue;
        if (!newest || m.stop_time >= newest->stop_time) newest = &m;
    }
    if (!newest) {
        return fail(ErrorCode::not_found,
                    "repository {} holds no mongodb backup yet: take one first (lifeboat backup "
                    "--source-kind mongodb), capture continues from it",
                    repository.location());
    }
    const auto from = backup_start_position(*newest);
    if (!from) {
        return fail(ErrorCode::not_found,
                    "backup {} recorded no change-stream position (its server had no change "
                    "streams): nothing can continue it; enable change streams and take a new base "
                    "backup",
                    newest->id);
    }
    const auto names = LB_TRY(repo::list_wal_names(repository.storage()));
    const ChainRun run = follow_chain(names, *from);
    if (run.lost) {
        return fail(ErrorCode::outside_window,
                    "the change stream after backup {} was lost at cluster time {} ({}): take a "
                    "new base backup (lifeboat backup --source-kind mongodb), capture continues "
                    "from it",
                    newest->id, format_cluster_time(run.end), run.objects.back());
    }
    StartPoint start{*from, newest->mongodb.resume_token_start, newest->id};
    if (run.objects.empty()) return start;
    // The token stored last in the chain: everything before it is stored.
    const std::string& last = run.objects.back();
    const std::string content = LB_TRY(repo::fetch_wal(repository.storage(), last));
    const auto records = LB_TRY(read_change_log(content, last));
    auto token = std::find_if(records.rbegin(), records.rend(), [](const ChangeRecordView& r) {
        return r.kind == ChangeRecordKind::resume_token;
    });
    if (token == records.rend())
        return fail(ErrorCode::corrupt, "{}: holds no resume token to continue from", last);
    start.position = run.end;
    start.token = std::string(token->payload);
    return start;
}

struct EventFacts {
    std::uint64_t cluster_time = 0;
    std::int64_t wall_ms = 0;
    std::string token;
};

Result<EventFacts> event_facts(const mongodb::Bson& event) {
    EventFacts facts;
    bson_iter_t it;
    if (bson_iter_init_find(&it, event.get(), "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
        std::uint32_t seconds = 0;
        std::uint32_t increment = 0;
        bson_iter_timestamp(&it, &seconds, &increment);
        facts.cluster_time = (static_cast<std::uint64_t>(seconds) << 32) | increment;
    } else {
        return fail(ErrorCode::database, "a change event without a clusterTime: {}",
                    event.relaxed_json());
    }
    if (bson_iter_init_find(&it, event.get(), "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&it))
        facts.wall_ms = bson_iter_date_time(&it);
    bson_iter_t id;
    if (!bson_iter_init_find(&id, event.get(), "_id") || !BSON_ITER_HOLDS_DOCUMENT(&id))
        return fail(ErrorCode::database, "a change event without its resume token (_id)");
    std::uint32_t length = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&id, &length, &data);
    auto token = LB_TRY(
        mongodb::Bson::from_bytes(std::string_view(reinterpret_cast<const char*>(data), length)));
    facts.token = token.canonical_json();
    return facts;
}

LagFigures lag_figures(std::vector<double> lags) {
    LagFigures out;
    out.events = lags.size();
    if (lags.empty()) return out;
    std::sort(lags.begin(), lags.end());
    auto rank = [&](double q) {
        const auto index =
            static_cast<std::size_t>(std::ceil(q * static_cast<double>(lags.size())));
        return lags[std::min(lags.size() - 1, index == 0 ? 0 : index - 1)];
    };
    out.p50 = rank(0.50);
    out.p99 = rank(0.99);
    out.max = lags.back();
    return out;
}

class Capture {
  public:
    Capture(repo::Repository& repository, const CaptureOptions& options,
            const OperationContext& ctx, const StartPoint& start)
        : m_repository(repository),
          m_options(options),
          m_ctx(ctx),
          m_position(start.position),
          m_token(start.token) {}

    Result<CaptureSummary> run();

  private:
    enum class Force { no, yes };
    Status hold(const mongodb::Bson& event, Steady::time_point asked);
    Status maybe_flush(Force force);
    Status maybe_store_quiet_token(const std::string& token_json);
    Status store_gap(const std::string& message);
    Status store(const std::string& name, const std::string& content, repo::WalMeta meta,
                 const std::vector<Timestamp>& times);

    repo::Repository& m_repository;
    const CaptureOptions& m_options;
    const OperationContext& m_ctx;
    const OperationContext* m_store_ctx = &m_ctx;  // what store() runs with
    std::uint64_t m_position;                      // where the stored chain ends
    std::string m_token;  // the token after the last held (else stored) event
    ChangeLogWriter m_writer;
    bool m_session_started = false;
    std::vector<Timestamp> m_held_times;
    std::uint64_t m_held_end = 0;  // cluster time of the last held event
    Steady::time_point m_first_held = Steady::now();
    Steady::time_point m_last_store = Steady::now();
    std::vector<double> m_lags;
    CaptureSummary m_summary;
};

Result<CaptureSummary> Capture::run() {
    // Cancellation ends the loop, never a store under way: what is held when it comes is stored
    // all the same (a second signal still ends the process at once).
    OperationContext storing = m_ctx;
    storing.cancellation = std::make_shared<CancellationToken>();
    m_store_ctx = &storing;
    m_summary.started_from = format_cluster_time(m_position);
    m_summary.resumed_after = m_token;
    m_summary.stored_end = m_summary.started_from;
    m_writer.add(ChangeRecordKind::session_start, m_position, 0, m_token);
    auto client = LB_TRY(mongodb::Client::connect(m_options.uri, {}));
    const auto await = std::min(m_options.flush_interval, std::chrono::milliseconds(1000));
    int failures = 0;
    while (!m_ctx.cancellation->cancelled()) {
        // After a failure, a new client: libmongoc's single-threaded client checks a server that
        // failed a check again only after 5 s (its cooldown), longer than the pause, so every
        // attempt through the old one failed with "No servers yet eligible for rescan". (No
        // stream of the old client is left: it ends with the iteration.)
        if (failures > 0) {
            if (auto fresh = mongodb::Client::connect(m_options.uri, {}))
                client = std::move(*fresh);
        }
        auto stream =
            mongodb::ChangeStream::open(client, {.resume_after_json = m_token, .max_await = await});
        Status failed;
        while (stream && !m_ctx.cancellation->cancelled()) {
            // Events came at the earliest when they were asked for: held since then.
            const auto asked = Steady::now();
            auto batch = stream->next_batch(k_batch_events, await);
            if (!batch) {
                failed = std::unexpected(batch.error());
                break;
            }
            failures = 0;
            for (const auto& event : batch->events)
                LB_CHECK(hold(event, asked));
            LB_CHECK(maybe_flush(Force::no));
            if (batch->events.empty()) LB_CHECK(maybe_store_quiet_token(batch->resume_token_json));
        }
        if (!stream) failed = std::unexpected(stream.error());
        if (failed) continue;  // cancelled
        LB_CHECK(maybe_flush(Force::yes));
        if (failed.error().code == ErrorCode::outside_window) {
            LB_CHECK(store_gap(failed.error().message));
            return fail(ErrorCode::outside_window,
                        "{}; recorded as gap {} in the repository, capture cannot continue: take "
                        "a new base backup (lifeboat backup --source-kind mongodb)",
                        failed.error().message, m_summary.gap);
        }
        if (++failures > k_reopen_attempts) return std::unexpected(failed.error());
        m_ctx.warn(fmt::format("{}; opening the change stream again after the stored position",
                               failed.error().message));
        if (!m_ctx.sleep_for(k_reopen_pause)) break;  // cancelled: store what is held
    }
    LB_CHECK(maybe_flush(Force::yes));
    m_summary.lag = lag_figures(std::move(m_lags));
    return m_summary;
}

Status Capture::hold(const mongodb::Bson& event, Steady::time_point asked) {
    const EventFacts facts = LB_TRY(event_facts(event));
    if (m_held_times.empty()) m_first_held = asked;
    m_writer.add(ChangeRecordKind::event, facts.cluster_time, facts.wall_ms, event.bytes());
    m_held_times.push_back(event_time(facts.cluster_time, facts.wall_ms));
    m_held_end = std::max(m_held_end, facts.cluster_time);
    m_token = facts.token;
    return {};
}

Status Capture::maybe_flush(Force force) {
    if (m_held_times.empty()) return {};
    const bool due = Steady::now() - m_first_held >= m_options.flush_interval ||
                     m_writer.size() >= m_options.object_size_bound;
    // An object ending at the cluster time it starts at would share its name with the next one
    // that does: held until a later event comes, unless the capture stops.
    if (force == Force::no && (!due || m_held_end <= m_position)) return {};
    const std::uint64_t end = std::max(m_held_end, m_position);
    m_writer.add(ChangeRecordKind::resume_token, end, 0, m_token);
    repo::WalMeta meta;
    meta.name = change_log_object_name({m_position, end, SpanKind::events});
    meta.first_commit = *std::min_element(m_held_times.begin(), m_held_times.end());
    meta.last_commit = *std::max_element(m_held_times.begin(), m_held_times.end());
    meta.commits = m_held_times.size();
    const std::string content = m_writer.take();
    LB_CHECK(store(meta.name, content, meta, m_held_times));
    m_summary.events += m_held_times.size();
    m_held_times.clear();
    m_position = end;
    m_summary.stored_end = format_cluster_time(end);
    return {};
}

// A quiet stream still moves on (the server's postBatchResumeToken follows its oplog): storing
// that token now and then keeps the stored resume point inside the server's history, so that a
// restart after a long quiet spell does not meet error 286. Every 60 flush intervals at most.
Status Capture::maybe_store_quiet_token(const std::string& token_json) {
    if (!m_held_times.empty() || token_json.empty()) return {};
    const auto position = resume_token_position(token_json);
    if (!position || *position <= m_position) return {};
    if (Steady::now() - m_last_store < 60 * m_options.flush_interval) return {};
    m_token = token_json;
    m_writer.add(ChangeRecordKind::resume_token, *position, 0, m_token);
    repo::WalMeta meta;
    meta.name = change_log_object_name({m_position, *position, SpanKind::events});
    LB_CHECK(store(meta.name, m_writer.take(), meta, {}));
    m_position = *position;
    m_summary.stored_end = format_cluster_time(*position);
    ++m_summary.quiet_tokens;
    return {};
}

Status Capture::store_gap(const std::string& message) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::gap, m_position, 0, message);
    repo::WalMeta meta;
    meta.name = change_log_object_name({m_position, m_position, SpanKind::gap});
    LB_CHECK(store(meta.name, writer.content(), meta, {}));
    m_summary.gap = meta.name;
    return {};
}

Status Capture::store(const std::string& name, const std::string& content, repo::WalMeta meta,
                      const std::vector<Timestamp>& times) {
    const OperationContext& ctx = *m_store_ctx;
    LB_CHECK(ctx.stage("capture:store"));
    meta.pushed = ctx.now();
    LB_TRY(repo::push_wal(m_repository.storage(), std::move(meta), content,
                          m_repository.config().compression_level, ctx));
    const Timestamp stored = ctx.now();
    for (const Timestamp& t : times)
        m_lags.push_back(static_cast<double>(stored.micros - t.micros) / 1e6);
    ++m_summary.objects;
    m_summary.stored_bytes += content.size();
    m_last_store = Steady::now();
    ctx.report({"capturing: " + name, m_summary.objects, 0});
    return {};
}

}  // namespace

Result<std::uint64_t> stored_resume_position(const repo::Repository& repository) {
    const StartPoint start = LB_TRY(find_start(repository));
    return start.position;
}

Result<CaptureSummary> run_capture(repo::Repository& repository, const CaptureOptions& options,
                                   const OperationContext& ctx) {
    if (options.uri.empty())
        return fail(ErrorCode::usage, "no MongoDB URI given (use --mongo URI or LIFEBOAT_MONGO)");
    const StartPoint start = LB_TRY(find_start(repository));
    Capture capture(repository, options, ctx, start);
    return capture.run();
}

}  // namespace lifeboat::mongodb_driver
