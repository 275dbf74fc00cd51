#include "drivers/postgres_physical/wal_stream.hpp"

#include <algorithm>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "drivers/postgres_physical/wal_transfer.hpp"
#include "repository/manifest.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_summary_store.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/replication_protocol.hpp"
#include "sources/postgres/timeline_history.hpp"
#include "sources/postgres/wal.hpp"
#include "sources/postgres/wal_summary.hpp"

namespace lifeboat::postgres_physical {

namespace {

using Steady = std::chrono::steady_clock;

// The server ends a walsender that has not heard from its client for wal_sender_timeout
// (60 s by default): status updates go out well within that even when nothing is stored.
constexpr std::chrono::seconds k_status_interval{10};
// The longest single wait for the stream: cancellation and flush deadlines are looked at between.
constexpr std::chrono::milliseconds k_poll{50};

std::string timeline_hex(std::uint32_t timeline) {
    return fmt::format("{:08X}", timeline);
}

// Where the repository's WAL of `timeline` ends without a hole at its newest point: after the
// newest archived segment, or after the contiguous chunks of a newer streamed segment.
Result<std::uint64_t> stored_end(const Storage& storage, std::uint32_t timeline,
                                 std::uint64_t segment_size) {
    const auto names = LB_TRY(repo::list_wal_names(storage));
    const std::string tli = timeline_hex(timeline);
    std::uint64_t end = 0;
    std::optional<std::uint64_t> newest_streamed;
    for (const auto& name : names) {
        if (auto chunk = parse_stream_chunk_name(name)) {
            const auto segment = postgres::parse_wal_file_name(chunk->segment, segment_size);
            if (segment && segment->timeline == timeline)
                newest_streamed = std::max(newest_streamed.value_or(0), segment->segno);
            continue;
        }
        if (postgres::classify_wal_file(name) != postgres::WalFileKind::segment) continue;
        if (!name.starts_with(tli)) continue;
        const auto segment = postgres::parse_wal_file_name(name, segment_size);
        if (segment) end = std::max(end, (segment->segno + 1) * segment_size);
    }
    if (newest_streamed && (*newest_streamed + 1) * segment_size > end) {
        const std::string segment =
            postgres::wal_file_name({timeline, *newest_streamed}, segment_size);
        const auto run = contiguous_run(LB_TRY(list_stream_chunks(storage, segment)));
        if (!run.empty()) end = std::max(end, *newest_streamed * segment_size + run.back().end);
    }
    return end;
}

class Streamer {
  public:
    Streamer(repo::Repository& repository, const WalStreamOptions& options,
             const OperationContext& ctx, postgres::Connection conn, std::uint32_t timeline,
             std::uint64_t segment_size)
        : m_repository(repository),
          m_options(options),
          m_ctx(ctx),
          m_conn(std::move(conn)),
          m_timeline(timeline),
          m_segment_size(segment_size) {}

    Result<WalStreamSummary> run(std::uint64_t start, WalStreamSummary summary);
    // What was stored so far (also after run failed).
    WalStreamSummary summary() const {
        WalStreamSummary out = m_summary;
        out.flushed = postgres::format_lsn({m_flushed});
        return out;
    }

  private:
    Status receive(std::uint64_t start, std::string_view data);
    Status flush_chunk();
    Status complete_segment();
    Status stitch_previous();
    Status report_flushed();
    std::string segment_name() const {
        return postgres::wal_file_name({m_timeline, m_segment_start / m_segment_size},
                                       m_segment_size);
    }
    // The commit span of the segment received so far (the rest read as zeros, where the scan
    // stops); empty when it cannot be read, which only leaves the window shorter.
    postgres::WalCommitSpan span_so_far() {
        // Kept between calls, so each flush copies only the new bytes, not a whole segment.
        if (m_zero_filled.size() != m_segment_size) m_zero_filled.assign(m_segment_size, '\0');
        m_zero_filled.replace(0, m_segment.size(), m_segment);
        auto span = postgres::scan_commit_times(m_zero_filled);
        return span ? *span : postgres::WalCommitSpan{};
    }

    repo::Repository& m_repository;
    const WalStreamOptions& m_options;
    const OperationContext& m_ctx;
    const OperationContext* m_store_ctx = &m_ctx;
    postgres::Connection m_conn;
    std::uint32_t m_timeline;
    std::uint64_t m_segment_size;
    std::uint64_t m_segment_start = 0;  // LSN of the segment being received
    std::string m_segment;              // its bytes from offset 0 up to what was received
    std::string m_zero_filled;          // the same, zero-filled to the segment size
    std::uint64_t m_chunk_start = 0;    // offset of the first byte not yet stored
    std::uint64_t m_flushed = 0;        // stored and reported to the server
    Steady::time_point m_first_held = Steady::now();
    Steady::time_point m_last_status = Steady::now();
    WalStreamSummary m_summary;
};

Result<WalStreamSummary> Streamer::run(std::uint64_t start, WalStreamSummary summary) {
    // Cancellation ends the loop, never a store under way.
    OperationContext storing = m_ctx;
    storing.cancellation = std::make_shared<CancellationToken>();
    m_store_ctx = &storing;
    m_summary = std::move(summary);
    m_segment_start = start - start % m_segment_size;
    m_flushed = start;
    if (start > m_segment_start) {
        // Continuing a segment streamed before: its stored prefix is needed to stitch it.
        auto prefix = LB_TRY(read_streamed_prefix(m_repository.storage(), segment_name()))
                          .value_or(std::string());
        if (prefix.size() != start - m_segment_start) {
            return fail(ErrorCode::corrupt,
                        "the streamed chunks of {} end at offset {}, expected {} (changed while "
                        "starting?)",
                        segment_name(), prefix.size(), start - m_segment_start);
        }
        m_segment = std::move(prefix);
        m_chunk_start = m_segment.size();
    }
    if (start == m_segment_start && start >= m_segment_size) LB_CHECK(stitch_previous());
    m_summary.started_from = postgres::format_lsn({start});
    LB_CHECK(m_conn.start_copy_both(fmt::format("START_REPLICATION SLOT {} PHYSICAL {} TIMELINE {}",
                                                m_conn.quote_identifier(m_options.slot),
                                                postgres::format_lsn({start}), m_timeline)));
    while (!m_ctx.cancellation->cancelled()) {
        auto received = m_conn.receive_copy(k_poll);
        if (!received) {
            // What arrived before the server went away is WAL it wrote: stored, it is not lost
            // with the server (it cannot be reported any more; the next run starts after it).
            (void)flush_chunk();
            return std::unexpected(received.error());
        }
        const auto& frame = *received;
        if (frame) {
            const auto parsed = LB_TRY(postgres::parse_replication_frame(*frame));
            if (parsed.data) {
                LB_CHECK(receive(parsed.data->start, parsed.data->data));
            } else if (parsed.keepalive && parsed.keepalive->reply_requested) {
                LB_CHECK(report_flushed());
            }
        }
        const std::uint64_t held = m_segment.size() - m_chunk_start;
        // Synchronous: commits wait for this report, so nothing is held back.
        if (held > 0 && (m_options.mode == StreamMode::synchronous ||
                         Steady::now() - m_first_held >= m_options.flush_interval ||
                         held >= m_options.chunk_bound)) {
            LB_CHECK(flush_chunk());
        }
        if (Steady::now() - m_last_status >= k_status_interval) LB_CHECK(report_flushed());
    }
    LB_CHECK(flush_chunk());
    m_summary.flushed = postgres::format_lsn({m_flushed});
    return m_summary;
}

// A run killed right after storing a segment's last chunk left it unstitched: the chunks cover
// the whole segment, so it is stitched now, before streaming the next one.
Status Streamer::stitch_previous() {
    const std::uint64_t next = m_segment_start;
    m_segment_start = next - m_segment_size;
    // Archived meanwhile or not, the chunks are left: complete_segment accepts the same content
    // and deletes them.
    auto prefix = LB_TRY(read_streamed_prefix(m_repository.storage(), segment_name()));
    if (prefix && prefix->size() == m_segment_size) {
        m_segment = std::move(*prefix);
        m_chunk_start = m_segment.size();
        return complete_segment();  // moves on to the next segment
    }
    m_segment_start = next;
    return {};
}

Status Streamer::receive(std::uint64_t start, std::string_view data) {
    const std::uint64_t position = m_segment_start + m_segment.size();
    if (start > position) {
        return fail(ErrorCode::database, "the server sent WAL from {} while {} was expected",
                    postgres::format_lsn({start}), postgres::format_lsn({position}));
    }
    // Sent again (a resend after reconnecting): only what is new counts.
    data.remove_prefix(std::min<std::uint64_t>(data.size(), position - start));
    while (!data.empty()) {
        if (m_segment.size() == m_chunk_start) m_first_held = Steady::now();
        const std::size_t take = static_cast<std::size_t>(
            std::min<std::uint64_t>(data.size(), m_segment_size - m_segment.size()));
        m_segment.append(data.substr(0, take));
        data.remove_prefix(take);
        if (m_segment.size() == m_segment_size) LB_CHECK(complete_segment());
    }
    return {};
}

Status Streamer::flush_chunk() {
    if (m_segment.size() == m_chunk_start) return {};
    const OperationContext& ctx = *m_store_ctx;
    LB_CHECK(ctx.stage("wal-stream:store"));
    const StreamChunk chunk{segment_name(), m_chunk_start, m_segment.size()};
    const auto span = span_so_far();
    repo::WalMeta meta;
    meta.name = stream_chunk_name(chunk);
    meta.pushed = ctx.now();
    meta.first_commit = span.first_commit;
    meta.last_commit = span.last_commit;
    meta.commits = span.commits;
    const std::string_view content = std::string_view(m_segment).substr(m_chunk_start);
    LB_TRY(repo::push_wal(m_repository.storage(), std::move(meta), content,
                          m_repository.config().compression_level, ctx));
    ++m_summary.chunks;
    m_summary.bytes += content.size();
    m_chunk_start = m_segment.size();
    // Stored for good: only now may the server count it as flushed.
    m_flushed = m_segment_start + m_segment.size();
    LB_CHECK(ctx.stage("wal-stream:report"));
    return report_flushed();
}

Status Streamer::complete_segment() {
    LB_CHECK(flush_chunk());
    const std::string name = segment_name();
    Storage& storage = m_repository.storage();
    LB_CHECK(m_store_ctx->stage("wal-stream:stitch"));
    // What wal-push would refuse must not enter the archive by this door either.
    LB_TRY(check_wal_file(storage, name, m_segment));
    const auto span = LB_TRY(postgres::scan_commit_times(m_segment));
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = m_store_ctx->now();
    meta.first_commit = span.first_commit;
    meta.last_commit = span.last_commit;
    meta.commits = span.commits;
    // Its WAL summary for incrementals, before the segment, as wal-push does. The next segment's
    // first bytes have not arrived yet, so a segment whose last record's block headers are cut
    // by its end cannot be summarised here: none is stored (rather than an incomplete one,
    // which would keep wal-push, if it archives too, from storing a complete one).
    if (const auto segment = postgres::parse_wal_file_name(name, m_segment_size)) {
        auto summary = postgres::summarize_wal_segment(m_segment, segment->timeline, std::nullopt);
        if (summary && summary->complete) {
            (void)repo::store_wal_summary(storage, name, postgres::encode_wal_summary(*summary));
        }
    }
    auto outcome = repo::push_wal(storage, std::move(meta), m_segment,
                                  m_repository.config().compression_level, *m_store_ctx);
    if (!outcome) {
        if (outcome.error().code == ErrorCode::conflict) {
            return fail(ErrorCode::conflict,
                        "WAL segment {} is archived with other content than the server streamed; "
                        "the streamed chunks (wal/stream/{}/) are kept, nothing is overwritten",
                        name, name);
        }
        return std::unexpected(outcome.error());
    }
    ++m_summary.segments_stitched;
    if (*outcome == repo::PushOutcome::already_present) ++m_summary.segments_already_archived;
    // The segment object holds every byte now: its chunks are redundant.
    for (const auto& chunk : LB_TRY(list_stream_chunks(storage, name)))
        LB_CHECK(storage.remove_if_exists(repo::wal_key(stream_chunk_name(chunk))));
    m_segment_start += m_segment_size;
    m_segment.clear();
    m_zero_filled.clear();
    m_chunk_start = 0;
    return {};
}

Status Streamer::report_flushed() {
    m_last_status = Steady::now();
    return m_conn.send_copy(postgres::standby_status_update(m_flushed, m_ctx.now()));
}

}  // namespace

std::optional<std::uint64_t> parse_segment_size_setting(std::string_view text) {
    std::uint64_t value = 0;
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9')
        value = value * 10 + static_cast<std::uint64_t>(text[i++] - '0');
    if (i == 0 || i > 10) return std::nullopt;
    const std::string_view unit = text.substr(i);
    std::uint64_t factor = 0;
    if (unit == "B" || unit.empty()) factor = 1;
    if (unit == "kB") factor = 1024;
    if (unit == "MB") factor = 1024 * 1024;
    if (unit == "GB") factor = 1024 * 1024 * 1024;
    if (factor == 0 || !postgres::is_valid_wal_segment_size(value * factor)) return std::nullopt;
    return value * factor;
}

namespace {

// One connection's worth of streaming: where it starts, on which timeline.
struct Session {
    postgres::Connection conn;
    std::uint32_t timeline = 0;
    std::uint64_t segment_size = 0;
    std::uint64_t start = 0;
    std::string system_identifier;
    bool slot_created = false;
    std::string max_slot_wal_keep_size;
    std::string wal_status;         // pg_replication_slots.wal_status ("" when unreadable)
    std::string safe_wal_size;      // bytes, "" when unlimited or unreadable
    bool slot_invalidated = false;  // it was, and was created anew
};

// The slot's wal_status and safe_wal_size, read over an ordinary connection (a physical
// replication connection runs no SQL). Best effort: empty when they cannot be read.
std::pair<std::string, std::string> slot_health(const std::string& conninfo,
                                                const std::string& slot) {
    auto conn = postgres::Connection::open(conninfo);
    if (!conn) return {};
    auto row = conn->query(
        "SELECT coalesce(wal_status, ''), coalesce(safe_wal_size::text, '') "
        "FROM pg_replication_slots WHERE slot_name = $1",
        {slot});
    if (!row || row->rows() != 1) return {};
    return {row->text(0, 0), row->text(0, 1)};
}

// Records the WAL of `timeline` from `from` to `to` (0: unknown) as missing from the stream
// (repo::record_stream_gap: the window shows it); returns the object's key.
Result<std::string> record_gap(repo::Repository& repository, std::uint32_t timeline,
                               std::uint64_t from, std::uint64_t to, const OperationContext& ctx) {
    const repo::StreamGap gap{timeline, from, to};
    LB_CHECK(repo::record_stream_gap(repository.storage(), gap, ctx.now()));
    return repo::stream_gap_key(gap);
}

// Stores `<timeline>.history` as wal-push would (the same content already stored is accepted);
// returns the position where `timeline` branched off its parent.
Result<std::uint64_t> store_history(repo::Repository& repository, postgres::Connection& conn,
                                    std::uint32_t timeline, const OperationContext& ctx) {
    const auto result = LB_TRY(conn.query(fmt::format("TIMELINE_HISTORY {}", timeline)));
    if (result.rows() != 1 || result.columns() < 2)
        return fail(ErrorCode::database, "TIMELINE_HISTORY {} returned no row", timeline);
    const std::string name = result.text(0, 0);
    const std::string content = result.text(0, 1);
    const auto history = LB_TRY(postgres::parse_timeline_history(timeline, content));
    Storage& storage = repository.storage();
    LB_TRY(check_wal_file(storage, name, content));
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = ctx.now();
    auto outcome = repo::push_wal(storage, std::move(meta), content,
                                  repository.config().compression_level, ctx);
    if (!outcome) {
        if (outcome.error().code == ErrorCode::conflict) {
            return fail(ErrorCode::conflict,
                        "timeline history {} is stored with other content than the server's", name);
        }
        return std::unexpected(outcome.error());
    }
    return history.begin().value;
}

Result<Session> open_session(repo::Repository& repository, const WalStreamOptions& options,
                             const std::string& base_conninfo, const OperationContext& ctx) {
    std::string conninfo =
        postgres::replication_conninfo(base_conninfo, postgres::ReplicationMode::physical);
    if (options.mode == StreamMode::synchronous &&
        base_conninfo.find("application_name") == std::string::npos) {
        // The name synchronous_standby_names lists; a URI takes it as a query parameter.
        const bool uri = conninfo.find("://") != std::string::npos;
        conninfo += (uri ? "&application_name=" : " application_name=") + options.slot;
    }
    Session session{LB_TRY(postgres::Connection::open(conninfo))};
    postgres::Connection& conn = session.conn;
    const auto identity = LB_TRY(conn.query("IDENTIFY_SYSTEM"));
    if (identity.rows() != 1 || identity.columns() < 3)
        return fail(ErrorCode::database, "IDENTIFY_SYSTEM returned no row");
    session.system_identifier = identity.text(0, 0);
    session.timeline = static_cast<std::uint32_t>(std::stoul(identity.text(0, 1)));
    LB_CHECK(check_same_cluster(repository.storage(), session.system_identifier));
    const std::string size_text = LB_TRY(conn.query_value("SHOW wal_segment_size"));
    const auto segment_size = parse_segment_size_setting(size_text);
    if (!segment_size)
        return fail(ErrorCode::database, "unreadable wal_segment_size '{}'", size_text);
    session.segment_size = *segment_size;
    // Slot safety: an unlimited slot holds WAL on the source until its disk fills.
    const auto keep = conn.query_value("SHOW max_slot_wal_keep_size");
    if (keep) session.max_slot_wal_keep_size = *keep;
    if (keep && (*keep == "-1" || keep->empty())) {
        ctx.warn(fmt::format(
            "max_slot_wal_keep_size is -1 (unlimited) on the source: while wal-stream is down, "
            "slot {} keeps WAL until the source's disk fills",
            options.slot));
    } else if (keep) {
        if (ctx.log)
            ctx.log(
                LogLevel::info,
                fmt::format("max_slot_wal_keep_size is {}: slot {} is invalidated when it holds "
                            "back more WAL than that",
                            *keep, options.slot));
    }

    const std::string slot = conn.quote_identifier(options.slot);
    auto read_slot = [&]() { return conn.query(fmt::format("READ_REPLICATION_SLOT {}", slot)); };
    auto slot_row = LB_TRY(read_slot());
    if (slot_row.rows() != 1 || !slot_row.at(0, 0)) {
        // Slots are not copied to standbys: after a failover the slot is created on the new
        // primary here.
        LB_TRY(conn.query(fmt::format("CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL", slot)));
        session.slot_created = true;
        slot_row = LB_TRY(read_slot());
    }
    if (slot_row.rows() != 1 || slot_row.text(0, 0) != "physical") {
        return fail(ErrorCode::conflict, "replication slot {} is a {} slot, not a physical one",
                    options.slot, slot_row.rows() == 1 ? slot_row.text(0, 0) : "missing");
    }
    auto restart = postgres::parse_lsn(slot_row.text(0, 1));
    if (!restart) {
        // An invalidated slot (wal_status 'lost': max_slot_wal_keep_size was exceeded) holds no
        // WAL any more and cannot stream: it is created anew, and what the server removed
        // meanwhile is a gap that the check below records (a backup taken after this needs none
        // of it).
        LB_TRY(conn.query(fmt::format("DROP_REPLICATION_SLOT {}", slot)));
        LB_TRY(conn.query(fmt::format("CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL", slot)));
        slot_row = LB_TRY(read_slot());
        restart = postgres::parse_lsn(slot_row.rows() == 1 ? slot_row.text(0, 1) : "");
        if (!restart)
            return fail(ErrorCode::database, "replication slot {} reserves no WAL", options.slot);
        session.slot_invalidated = true;
    }
    std::tie(session.wal_status, session.safe_wal_size) = slot_health(base_conninfo, options.slot);
    if (session.wal_status == "unreserved") {
        ctx.warn(
            fmt::format("replication slot {} is about to be invalidated (wal_status "
                        "unreserved): it holds more WAL than max_slot_wal_keep_size allows",
                        options.slot));
    }
    std::uint64_t reserved = restart->value - restart->value % *segment_size;
    std::uint64_t stored =
        LB_TRY(stored_end(repository.storage(), session.timeline, *segment_size));
    if (session.timeline > 1) {
        const std::uint64_t switch_lsn =
            LB_TRY(store_history(repository, conn, session.timeline, ctx));
        // Nothing of this timeline stored yet: it starts at the segment of the switch, whose
        // first part the server's file of this timeline holds (copied from the parent).
        if (stored == 0) {
            const std::uint64_t switch_segment = switch_lsn - switch_lsn % *segment_size;
            if (reserved > switch_segment) {
                ctx.warn(fmt::format(
                    "timeline {} began at {}, but slot {} only holds WAL from {}: the WAL between "
                    "is not in the repository unless archive_command stored it",
                    session.timeline, postgres::format_lsn({switch_lsn}), options.slot,
                    postgres::format_lsn({reserved})));
            }
            stored = switch_segment;
        }
    }
    if (stored != 0 && stored < reserved) {
        // A backup that starts after the missing WAL needs none of it; otherwise restores would
        // stop at the gap while wal-stream went on storing what no restore can reach.
        bool covered = false;
        for (const auto& manifest : LB_TRY(repo::read_all_manifests(repository.storage()))) {
            const auto backup_start = postgres::parse_lsn(manifest.start_lsn);
            if (manifest.timeline == session.timeline && backup_start &&
                backup_start->value >= reserved)
                covered = true;
        }
        // A slot created just now never held the WAL before it: that is archive_command's (it
        // may still be storing it). A slot that held it and let it go lost it for good.
        if (!covered && (!session.slot_created || session.slot_invalidated)) {
            const std::string key =
                LB_TRY(record_gap(repository, session.timeline, stored, reserved, ctx));
            return fail(
                ErrorCode::conflict,
                "WAL gap: the repository's WAL of timeline {} ends at {}, but slot {} only "
                "holds WAL from {} (recorded as {}); restores cannot cross it: take a new "
                "backup (lifeboat backup), then start wal-stream again{}",
                session.timeline, postgres::format_lsn({stored}), options.slot,
                postgres::format_lsn({reserved}), key,
                session.slot_invalidated ? " (the slot was invalidated and created anew)" : "");
        }
        ctx.warn(fmt::format(
            "the repository's WAL of timeline {} ends at {}, but slot {} only holds WAL from {}: "
            "streaming starts there; a backup taken after the gap needs none of the WAL between",
            session.timeline, postgres::format_lsn({stored}), options.slot,
            postgres::format_lsn({reserved})));
    }
    session.start = std::max(stored, reserved);
    return session;
}

// Connects to the first of the conninfos that answers, retrying until `deadline` (a failover
// takes a while: the standby must be promoted); the last failure when none did.
Result<Session> connect_any(repo::Repository& repository, const WalStreamOptions& options,
                            const OperationContext& ctx, Steady::time_point deadline) {
    std::vector<std::string> conninfos{options.conninfo};
    conninfos.insert(conninfos.end(), options.fallbacks.begin(), options.fallbacks.end());
    for (;;) {
        Result<Session> last = fail(ErrorCode::database, "no connection tried");
        for (const auto& conninfo : conninfos) {
            last = open_session(repository, options, conninfo, ctx);
            if (last) return last;
            // A refusal about the repository or the slot is not cured by another try.
            if (last.error().code != ErrorCode::database) return last;
        }
        if (Steady::now() >= deadline || ctx.cancellation->cancelled()) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

}  // namespace

Result<WalStreamSummary> run_wal_stream(repo::Repository& repository,
                                        const WalStreamOptions& options,
                                        const OperationContext& ctx) {
    if (options.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    if (options.slot.empty()) return fail(ErrorCode::usage, "--slot must not be empty");
    WalStreamSummary summary;
    summary.slot = options.slot;
    Session session = LB_TRY(connect_any(repository, options, ctx, Steady::now()));
    summary.system_identifier = session.system_identifier;
    summary.timeline = session.timeline;
    summary.slot_created = session.slot_created;
    summary.max_slot_wal_keep_size = session.max_slot_wal_keep_size;
    summary.wal_status = session.wal_status;
    summary.safe_wal_size = session.safe_wal_size;
    std::string started_from;
    for (;;) {
        summary.timeline = session.timeline;
        Streamer streamer(repository, options, ctx, std::move(session.conn), session.timeline,
                          session.segment_size);
        auto outcome = streamer.run(session.start, summary);
        if (started_from.empty() && outcome) started_from = outcome->started_from;
        if (outcome) {
            if (!started_from.empty()) outcome->started_from = started_from;
            return outcome;
        }
        // A lost connection or an ended timeline: reconnect (to a fallback too) and go on from
        // what is stored; anything else ends the stream.
        if (outcome.error().code != ErrorCode::database || options.reconnect_timeout.count() == 0)
            return outcome;
        ctx.warn(fmt::format("{}; reconnecting", outcome.error().message));
        summary = streamer.summary();
        if (started_from.empty()) started_from = summary.started_from;
        const std::uint32_t before = session.timeline;
        auto next =
            connect_any(repository, options, ctx, Steady::now() + options.reconnect_timeout);
        if (!next) {
            // Stopped (SIGTERM) while reconnecting: everything received is stored, a clean end.
            if (ctx.cancellation->cancelled()) {
                if (!started_from.empty()) summary.started_from = started_from;
                return summary;
            }
            return std::unexpected(next.error());
        }
        session = std::move(*next);
        if (session.timeline != before) {
            ++summary.timeline_switches;
            ctx.warn(fmt::format("following timeline {} (was {})", session.timeline, before));
        }
        summary.slot_created = summary.slot_created || session.slot_created;
        summary.wal_status = session.wal_status;
        summary.safe_wal_size = session.safe_wal_size;
    }
}

}  // namespace lifeboat::postgres_physical
