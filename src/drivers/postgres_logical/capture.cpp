#include "drivers/postgres_logical/capture.hpp"

#include <algorithm>
#include <cmath>

#include "drivers/postgres_logical/base_backup.hpp"
#include "drivers/postgres_logical/chain.hpp"
#include "drivers/postgres_logical/object_cutter.hpp"
#include "drivers/postgres_logical/pgoutput.hpp"
#include "drivers/postgres_logical/preflight.hpp"
#include "drivers/postgres_logical/sequence_sampler.hpp"
#include "drivers/postgres_logical/setup.hpp"
#include "repository/manifest.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/connection.hpp"

namespace lifeboat::postgres_logical {

namespace {

using Steady = std::chrono::steady_clock;

// The server ends a walsender that has not heard from its client for wal_sender_timeout
// (60 s by default): status updates go out well within that even when nothing is stored.
constexpr std::chrono::seconds k_status_interval{10};
// How long one wait for the stream lasts at most: the cancellation token is looked at between
// waits.
constexpr std::chrono::milliseconds k_poll{100};
constexpr std::string_view k_heartbeat_prefix = "lifeboat.heartbeat";

struct StartPoint {
    std::uint64_t position = 0;
    std::string backup_id;
};

Result<StartPoint> find_start(const repo::Repository& repository) {
    const auto manifests = LB_TRY(repo::read_all_manifests(repository.storage()));
    const repo::Manifest* newest = nullptr;
    for (const auto& m : manifests) {
        if (m.source.kind != repo::k_kind_postgres_logical) continue;
        if (!newest || m.stop_time >= newest->stop_time) newest = &m;
    }
    if (!newest) {
        return fail(ErrorCode::not_found,
                    "repository {} holds no postgres-logical backup yet: take one first (lifeboat "
                    "backup --source-kind postgres-logical), capture continues from it",
                    repository.location());
    }
    const auto point = parse_lsn_text(newest->stop_lsn);
    if (!point) {
        return fail(ErrorCode::corrupt, "backup {}: stop LSN '{}' is not an LSN", newest->id,
                    newest->stop_lsn);
    }
    const auto names = LB_TRY(repo::list_wal_names(repository.storage()));
    return StartPoint{follow_chain(names, *point).end, newest->id};
}

// A non-transactional logical message with Lifeboat's heartbeat prefix: it carries nothing.
bool is_heartbeat(std::string_view message) {
    // 'M', flags(1), lsn(8), prefix NUL-terminated: a heartbeat is never transactional, so
    // never inside a stream (no transaction id).
    if (message.size() < 10 + k_heartbeat_prefix.size() + 1 || message[0] != 'M' || message[1] != 0)
        return false;
    return message.substr(10, k_heartbeat_prefix.size() + 1) ==
           std::string(k_heartbeat_prefix) + '\0';
}

class Capture {
  public:
    Capture(repo::Repository& repository, const CaptureOptions& options,
            const OperationContext& ctx, postgres::Connection replication, SequenceSampler sampler,
            std::uint64_t start)
        : m_repository(repository),
          m_options(options),
          m_ctx(ctx),
          m_replication(std::move(replication)),
          m_sampler(std::move(sampler)),
          m_cutter(start),
          m_confirmed(start) {}

    Result<CaptureSummary> run(const std::string& slot, std::uint64_t start);

  private:
    Status handle(const std::string& frame);
    // Cuts and stores an object when the rules say so (or `force`, at the end).
    enum class Force { no, yes };
    Status maybe_flush(Force force);
    Status store(CutObject object);
    Status confirm(std::uint64_t position);
    // Samples every sequence; Samples::all writes each value, Samples::changed only those
    // that changed since the last sample written.
    enum class Samples { all, changed };
    Status sample_sequences(Samples which);

    repo::Repository& m_repository;
    const CaptureOptions& m_options;
    const OperationContext& m_ctx;
    const OperationContext* m_store_ctx = &m_ctx;  // what store() runs with
    postgres::Connection m_replication;
    SequenceSampler m_sampler;
    ChangeLogCutter m_cutter;
    std::uint64_t m_confirmed;
    std::optional<std::uint64_t> m_server_end;        // the last keepalive's WAL end
    Steady::time_point m_first_held = Steady::now();  // when the oldest held message came
    Steady::time_point m_last_message = Steady::now();
    Steady::time_point m_last_status = Steady::now();
    Steady::time_point m_last_sample = Steady::now();
    Steady::time_point m_last_heartbeat = Steady::now();
    std::map<std::string, std::string> m_stored_samples;
    bool m_warned_sequences = false;
    bool m_warned_heartbeat = false;
    std::vector<double> m_lags;
    CaptureSummary m_summary;
};

Result<CaptureSummary> Capture::run(const std::string& slot, std::uint64_t start) {
    // Cancellation ends the loop, never a store under way: what is held when it comes is stored
    // all the same (a second signal still ends the process at once).
    OperationContext storing = m_ctx;
    storing.cancellation = std::make_shared<CancellationToken>();
    m_store_ctx = &storing;
    m_summary.slot = slot;
    m_summary.started_from = format_lsn_text(start);
    m_summary.stored_end = m_summary.started_from;
    LB_CHECK(m_replication.start_copy_both(fmt::format(
        "START_REPLICATION SLOT {} LOGICAL {} (proto_version '2', streaming 'on', messages "
        "'true', publication_names '{}')",
        m_replication.quote_identifier(slot), format_lsn_text(start), k_publication)));
    m_cutter.start_session(start);
    LB_CHECK(sample_sequences(Samples::all));
    while (!m_ctx.cancellation->cancelled()) {
        auto frame = LB_TRY(m_replication.receive_copy(k_poll));
        if (frame) {
            LB_CHECK(handle(*frame));
            m_last_message = Steady::now();
        }
        const auto now = Steady::now();
        if (now - m_last_sample >= m_options.sample_interval)
            LB_CHECK(sample_sequences(Samples::changed));
        if (m_options.heartbeat_interval.count() > 0 &&
            now - m_last_heartbeat >= m_options.heartbeat_interval) {
            m_last_heartbeat = now;
            auto sent = m_sampler.execute(
                fmt::format("SELECT pg_logical_emit_message(false, '{}', '')", k_heartbeat_prefix));
            if (!sent && !m_warned_heartbeat) {
                m_warned_heartbeat = true;
                m_summary.warnings.push_back("heartbeat messages failed (" + sent.error().message +
                                             "); continuing without");
            }
        }
        LB_CHECK(maybe_flush(Force::no));
        if (Steady::now() - m_last_status >= k_status_interval) LB_CHECK(confirm(m_confirmed));
    }
    LB_CHECK(maybe_flush(Force::yes));
    m_summary.confirmed = format_lsn_text(m_confirmed);
    m_summary.lag = lag_figures(std::move(m_lags));
    return m_summary;
}

Status Capture::handle(const std::string& frame) {
    const ReplicationFrame parsed = LB_TRY(parse_replication_frame(frame));
    if (parsed.keepalive) {
        m_server_end = std::max(m_server_end.value_or(0), parsed.keepalive->wal_end);
        if (parsed.keepalive->reply_requested) LB_CHECK(confirm(m_confirmed));
        return {};
    }
    const XLogData& data = *parsed.data;
    if (is_heartbeat(data.data)) return {};
    if (!m_cutter.holds_messages()) m_first_held = Steady::now();
    LB_CHECK(m_cutter.add_message(data.start, data.data));
    ++m_summary.messages;
    return {};
}

Status Capture::maybe_flush(Force force) {
    if (!m_cutter.at_boundary()) return {};
    const auto now = Steady::now();
    // Due a flush_interval after the first message held, or once the stream pauses. Messages
    // without a commit (streamed chunks, non-transactional messages) are stored too: holding
    // them would keep the slot from advancing, and the server sends unfinished transactions
    // again anyway.
    const bool due =
        m_cutter.holds_messages() &&
        (now - m_first_held >= m_options.flush_interval ||
         now - m_last_message >= std::min<Steady::duration>(m_options.flush_interval, k_poll));
    if (force == Force::yes || due || m_cutter.held_bytes() >= m_options.object_size_bound) {
        if (m_cutter.holds_messages()) LB_CHECK(sample_sequences(Samples::changed));
        if (auto object = m_cutter.cut()) {
            LB_CHECK(store(std::move(*object)));
            return {};
        }
    }
    // Idle: nothing unfinished is held, so everything the server had decoded when it reported
    // its position is stored; confirming it lets the slot release WAL.
    if (!m_cutter.holds_messages() && m_server_end && *m_server_end > m_confirmed) {
        if (m_cutter.holds_anything()) {
            if (auto object = m_cutter.cut(*m_server_end)) {
                LB_CHECK(store(std::move(*object)));
                return {};
            }
        }
        LB_CHECK(confirm(*m_server_end));
    }
    return {};
}

Status Capture::store(CutObject object) {
    const OperationContext& ctx = *m_store_ctx;
    LB_CHECK(ctx.stage("capture:store"));
    repo::WalMeta meta;
    meta.name = object.name;
    meta.first_commit = object.first_commit;
    meta.last_commit = object.last_commit;
    meta.commits = object.commits;
    meta.pushed = ctx.now();
    LB_TRY(repo::push_wal(m_repository.storage(), meta, object.content,
                          m_repository.config().compression_level, ctx));
    const Timestamp stored = ctx.now();
    for (const Timestamp& commit : object.commit_times)
        m_lags.push_back(static_cast<double>(stored.micros - commit.micros) / 1e6);
    ++m_summary.objects;
    m_summary.commits += object.commits;
    m_summary.stored_bytes += object.content.size();
    m_summary.stored_end = format_lsn_text(object.end);
    ctx.report({"capturing: " + object.name, m_summary.objects, 0});
    // Stored for good: only now may the server forget what the object holds.
    LB_CHECK(ctx.stage("capture:confirm"));
    return confirm(object.end);
}

Status Capture::confirm(std::uint64_t position) {
    m_confirmed = std::max(m_confirmed, position);
    m_last_status = Steady::now();
    return m_replication.send_copy(standby_status_update(m_confirmed, m_ctx.now()));
}

Status Capture::sample_sequences(Samples which) {
    m_last_sample = Steady::now();
    if (which == Samples::all) m_stored_samples.clear();
    const SequenceSnapshot sample = LB_TRY(m_sampler.sample());
    if (!sample.unreadable.empty() && !m_warned_sequences) {
        m_warned_sequences = true;
        m_summary.warnings.push_back(
            fmt::format("the role cannot read {} sequence(s), whose values are not captured: {}",
                        sample.unreadable.size(), fmt::join(sample.unreadable, ", ")));
    }
    for (const auto& [key, payload] : sample.values) {
        // Only what changed: the object's reader keeps the last value it saw of each.
        auto& stored = m_stored_samples[key];
        if (stored == payload) continue;
        stored = payload;
        m_cutter.add_sequence(sample.lsn, payload);
        ++m_summary.sequence_samples;
    }
    return {};
}

}  // namespace

LagFigures lag_figures(std::vector<double> lags) {
    LagFigures out;
    out.commits = lags.size();
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

Result<CaptureSummary> run_capture(repo::Repository& repository, const CaptureOptions& options,
                                   const OperationContext& ctx) {
    if (options.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    const StartPoint start = LB_TRY(find_start(repository));
    const std::string slot = slot_name_for(repository.config().repository_id);
    std::vector<std::string> warnings;
    SequenceSampler sampler =
        LB_TRY(SequenceSampler::open(options.conninfo, options.statement_timeout));
    // The slot is looked at through the sampler's connection, before streaming starts.
    {
        postgres::Connection conn = LB_TRY(
            postgres::Connection::open(options.conninfo, {.statement = options.statement_timeout}));
        auto row = LB_TRY(conn.query(
            "SELECT active, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
            {slot}));
        if (row.rows() == 0) {
            return fail(ErrorCode::not_found,
                        "replication slot {} does not exist on the source: the change stream "
                        "after backup {} is lost; take a new base backup (lifeboat backup "
                        "--source-kind postgres-logical), which creates the slot",
                        slot, start.backup_id);
        }
        if (row.text(0, 0) == "t") {
            return fail(ErrorCode::conflict,
                        "replication slot {} is in use by another process (a capture or backup "
                        "of this repository is running)",
                        slot);
        }
        const SourceFacts facts = LB_TRY(read_source_facts(conn));
        if (!facts.ddl_capture) {
            warnings.push_back(fmt::format(
                "the DDL-capture event trigger {} is missing: DDL is not captured in the change "
                "stream (lifeboat logical-setup --apply creates it)",
                k_ddl_trigger));
        }
        if (facts.publication && !facts.publication_all_tables) {
            warnings.push_back(fmt::format(
                "publication {} lists its tables: tables created later are not captured",
                k_publication));
        }
    }
    postgres::Connection replication =
        LB_TRY(postgres::Connection::open(postgres::replication_conninfo(options.conninfo)));
    // Said at once, not only in the summary: capture runs until stopped.
    for (const auto& w : warnings)
        ctx.warn(w);
    Capture capture(repository, options, ctx, std::move(replication), std::move(sampler),
                    start.position);
    return capture.run(slot, start.position);
}

}  // namespace lifeboat::postgres_logical
