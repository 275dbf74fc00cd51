#include "drivers/postgres_physical/wal_stream_stitch.hpp"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "repository/wal_archive.hpp"
#include "repository/wal_summary_store.hpp"
#include "sources/postgres/wal.hpp"
#include "sources/postgres/wal_summary.hpp"

namespace lifeboat::postgres_physical {

Result<repo::PushOutcome> stitch_segment(repo::Repository& repository, const std::string& name,
                                         std::string_view content, const OperationContext& ctx) {
    Storage& storage = repository.storage();
    LB_CHECK(ctx.stage("wal-stream:stitch"));
    // What wal-push would refuse must not enter the archive by this door either.
    LB_TRY(check_wal_file(storage, name, content));
    const auto span = LB_TRY(postgres::scan_commit_times(content));
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = ctx.now();
    meta.first_commit = span.first_commit;
    meta.last_commit = span.last_commit;
    meta.commits = span.commits;
    // Its WAL summary for incrementals, before the segment, as wal-push does. The next segment's
    // first bytes may not have arrived yet, so a segment whose last record's block headers are cut
    // by its end cannot be summarised here: none is stored (rather than an incomplete one, which
    // would keep wal-push, if it archives too, from storing a complete one).
    if (const auto segment = postgres::parse_wal_file_name(name, content.size())) {
        auto summary = postgres::summarize_wal_segment(content, segment->timeline, std::nullopt);
        if (summary && summary->complete) {
            (void)repo::store_wal_summary(storage, name, postgres::encode_wal_summary(*summary));
        }
    }
    auto outcome = repo::push_wal(storage, std::move(meta), content,
                                  repository.config().compression_level, ctx);
    if (!outcome) {
        if (outcome.error().code == ErrorCode::conflict) {
            return fail(ErrorCode::conflict,
                        "WAL segment {} is archived with other content than the server streamed; "
                        "the streamed chunks (wal/stream/{}/) are kept, nothing is overwritten",
                        name, name);
        }
        return std::unexpected(outcome.error());
    }
    // The segment object holds every byte now: its chunks are redundant.
    for (const auto& chunk : LB_TRY(list_stream_chunks(storage, name)))
        LB_CHECK(storage.remove_if_exists(repo::wal_key(stream_chunk_name(chunk))));
    return *outcome;
}

Result<std::vector<std::string>> unstitched_segments(const Storage& storage, std::uint32_t timeline,
                                                     std::uint64_t segment_size) {
    const auto names = LB_TRY(repo::list_wal_names(storage));
    std::map<std::string, std::vector<StreamChunk>> chunks;
    for (const auto& name : names) {
        auto chunk = parse_stream_chunk_name(name);
        if (!chunk) continue;
        const auto segment = postgres::parse_wal_file_name(chunk->segment, segment_size);
        if (!segment || segment->timeline != timeline) continue;
        chunks[chunk->segment].push_back(std::move(*chunk));
    }
    std::vector<std::string> whole;
    for (auto& [segment, list] : chunks) {
        const auto run = contiguous_run(std::move(list));
        if (!run.empty() && run.back().end >= segment_size) whole.push_back(segment);
    }
    return whole;  // std::map: in name order, which is WAL order within a timeline
}

SegmentStitcher::SegmentStitcher(repo::Repository& repository, const OperationContext& ctx,
                                 std::size_t max_pending)
    : m_repository(repository), m_ctx(ctx), m_max_pending(max_pending == 0 ? 1 : max_pending) {
    m_thread = std::thread([this] { work(); });
}

SegmentStitcher::~SegmentStitcher() {
    (void)finish();
}

Status SegmentStitcher::submit(std::string name, std::string content) {
    std::unique_lock lock(m_mutex);
    // Back-pressure: a storage slower than the WAL rate makes the receive loop wait here rather
    // than hold an unbounded number of 16 MiB segments.
    m_changed.wait(lock, [&] { return m_queue.size() < m_max_pending || m_failure; });
    if (m_failure) return std::unexpected(*m_failure);
    m_queue.push_back({std::move(name), std::move(content)});
    m_changed.notify_all();
    return {};
}

Status SegmentStitcher::failure() const {
    std::lock_guard lock(m_mutex);
    if (m_failure) return std::unexpected(*m_failure);
    return {};
}

Status SegmentStitcher::drain() {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return (m_queue.empty() && !m_busy) || m_failure; });
    if (m_failure) return std::unexpected(*m_failure);
    return {};
}

Status SegmentStitcher::finish() {
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return (m_queue.empty() && !m_busy) || m_failure; });
        m_stopping = true;
        m_changed.notify_all();
    }
    if (m_thread.joinable()) m_thread.join();
    return failure();
}

StitchCounts SegmentStitcher::counts() const {
    std::lock_guard lock(m_mutex);
    return m_counts;
}

void SegmentStitcher::work() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_changed.wait(lock, [&] { return !m_queue.empty() || m_stopping; });
        if (m_queue.empty() || m_failure) return;
        Pending pending = std::move(m_queue.front());
        m_queue.pop_front();
        m_busy = true;
        lock.unlock();
        auto outcome = stitch_segment(m_repository, pending.name, pending.content, m_ctx);
        lock.lock();
        m_busy = false;
        if (outcome) {
            ++m_counts.stitched;
            if (*outcome == repo::PushOutcome::already_present) ++m_counts.already_archived;
        } else {
            m_failure = outcome.error();
            m_queue.clear();
        }
        m_changed.notify_all();
    }
}

}  // namespace lifeboat::postgres_physical
