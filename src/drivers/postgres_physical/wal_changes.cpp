#include "drivers/postgres_physical/wal_changes.hpp"

#include <chrono>

#include <fmt/format.h>

#include "io/file.hpp"

namespace lifeboat::postgres_physical {

namespace {
constexpr std::chrono::seconds k_archiver_grace{3};
}  // namespace

std::string next_segment_head(const fs::path& directory, const std::string& name,
                              std::uint64_t segment_size) {
    const auto segment = postgres::parse_wal_file_name(name, segment_size);
    if (!segment) return {};
    const std::string next =
        postgres::wal_file_name({segment->timeline, segment->segno + 1}, segment_size);
    auto file = File::open(directory / next, OpenMode::read);
    if (!file) return {};
    auto head = file->read_range(0, postgres::k_next_segment_head);
    return head ? std::move(*head) : std::string();
}

Result<postgres::WalSummary> summarize_from_pg_wal(const fs::path& directory,
                                                   const std::string& name, std::uint32_t timeline,
                                                   std::optional<postgres::Lsn> before) {
    std::string bytes;
    if (before) {
        // Only as far as `before` (and a page more, for the header of the page it is on).
        File file = LB_TRY(File::open(directory / name, OpenMode::read));
        constexpr std::uint64_t k_unit = 64 * 1024;  // the largest WAL page size
        const std::uint64_t offset = before->value % LB_TRY(file.size());
        bytes = LB_TRY(file.read_range(0, (offset / k_unit + 2) * k_unit));
    } else {
        bytes = LB_TRY(read_file(directory / name));
    }
    const postgres::WalSegmentHeader header = LB_TRY(postgres::read_segment_header(bytes));
    auto summary = LB_TRY(postgres::summarize_wal_segment(bytes, timeline, before));
    if (summary.complete || before) return summary;
    return postgres::summarize_wal_segment(bytes, timeline, before,
                                           next_segment_head(directory, name, header.segment_size));
}

namespace {

// The summary of a segment read from the server's pg_wal, up to `before` when given. The file
// may be recycled under us: its pages then carry other addresses, the walk stops early, and the
// summary is incomplete, which fails here.
std::expected<postgres::WalSummary, std::string> summarize_live(
    const fs::path& pgdata, const std::string& name, std::uint32_t timeline,
    std::optional<postgres::Lsn> before) {
    auto summary = summarize_from_pg_wal(pgdata / "pg_wal", name, timeline, before);
    if (!summary && summary.error().code == ErrorCode::not_found) {
        return std::unexpected(
            fmt::format("WAL segment {} is neither summarised nor in pg_wal", name));
    }
    if (!summary || !summary->complete) {
        return std::unexpected(
            fmt::format("WAL segment {} in pg_wal could not be read to its end", name));
    }
    return std::move(*summary);
}

// The summary of archived segment `s` recomputed with the head of the segment after it.
std::expected<postgres::WalSummary, std::string> complete_summary(
    const source::ContentSink& sink, const fs::path& pgdata, postgres::WalSegment s,
    std::uint64_t segment_size, std::uint32_t timeline, postgres::WalSegment last) {
    const std::string name = postgres::wal_file_name(s, segment_size);
    auto content = sink.log_object(name);
    if (!content) return std::unexpected(content.error().message);
    // The next segment's first pages: from the archive (streamed: only the head is kept, never
    // its 16 MiB), else from pg_wal (the segment the backup starts in is not archived yet).
    std::string head;
    if (s.segno + 1 < last.segno) {
        const std::string next = postgres::wal_file_name({s.timeline, s.segno + 1}, segment_size);
        if (auto archived = sink.log_object_head(next, postgres::k_next_segment_head))
            head = std::move(*archived);
    }
    if (head.empty()) head = next_segment_head(pgdata / "pg_wal", name, segment_size);
    auto summary = postgres::summarize_wal_segment(*content, timeline, std::nullopt, head);
    if (!summary) return std::unexpected(summary.error().message);
    if (!summary->complete) return std::unexpected("its last record cannot be read to its end");
    return std::move(*summary);
}

}  // namespace

std::expected<postgres::WalSummary, std::string> changes_since(
    const repo::Manifest& previous, const std::string& start_lsn, std::uint32_t timeline,
    std::uint64_t segment_size, const fs::path& pgdata, const source::ContentSink& sink,
    const OperationContext& ctx) {
    using Failure = std::unexpected<std::string>;
    if (previous.timeline != timeline) {
        return Failure(fmt::format("the previous backup is on timeline {}, this one on {}",
                                   previous.timeline, timeline));
    }
    if (previous.postgres.wal_segment_size != segment_size) {
        return Failure("the WAL segment size changed since the previous backup");
    }
    const auto from = postgres::parse_lsn(previous.start_lsn);
    const auto to = postgres::parse_lsn(start_lsn);
    if (!from || !to || *to < *from) {
        return Failure(
            fmt::format("unexpected start positions {} and {}", previous.start_lsn, start_lsn));
    }
    const postgres::WalSegment first = postgres::segment_of(*from, timeline, segment_size);
    const postgres::WalSegment last = postgres::segment_of(*to, timeline, segment_size);
    postgres::WalSummary changed;
    changed.timeline = timeline;
    changed.start = postgres::segment_start(first, segment_size);
    changed.end = changed.start;
    changed.complete = true;
    for (postgres::WalSegment s = first; s.segno < last.segno; ++s.segno) {
        const std::string name = postgres::wal_file_name(s, segment_size);
        auto payload = sink.log_object_summary(name);
        // Not archived yet: pg_backup_start has just switched segments, and the archiver runs a
        // little behind. Its summary is written first, usually within milliseconds; meanwhile
        // the server's pg_wal still has the segment, read if the wait is not enough.
        const auto deadline = std::chrono::steady_clock::now() + k_archiver_grace;
        while (!payload && payload.error().code == ErrorCode::not_found &&
               std::chrono::steady_clock::now() < deadline) {
            auto archived = sink.log_object_archived(name);
            if (!archived || *archived) break;
            if (!ctx.sleep_for(std::chrono::milliseconds(20))) break;
            payload = sink.log_object_summary(name);
        }
        if (!payload && payload.error().code == ErrorCode::not_found) {
            auto archived = sink.log_object_archived(name);
            if (archived && !*archived) {
                auto live = summarize_live(pgdata, name, timeline, std::nullopt);
                if (!live) return Failure(live.error());
                postgres::merge_wal_summary(changed, *live);
                continue;
            }
        }
        if (!payload) {
            return Failure(payload.error().code == ErrorCode::not_found
                               ? fmt::format("WAL segment {} has no summary", name)
                               : fmt::format("the summary of WAL segment {} is unreadable: {}",
                                             name, payload.error().message));
        }
        auto summary = postgres::parse_wal_summary(*payload, name);
        if (!summary) {
            return Failure(fmt::format("the summary of WAL segment {} is unreadable: {}", name,
                                       summary.error().message));
        }
        if (summary->timeline != timeline ||
            summary->start != postgres::segment_start(s, segment_size)) {
            return Failure(
                fmt::format("the summary stored for WAL segment {} describes other WAL", name));
        }
        if (!summary->complete) {
            // Stored by a push that did not see the next segment's head yet (the record that
            // crosses into it): completed now from the archive (or pg_wal) instead of giving up.
            auto completed = complete_summary(sink, pgdata, s, segment_size, timeline, last);
            if (!completed) {
                return Failure(fmt::format("the summary of WAL segment {} is incomplete ({})", name,
                                           completed.error()));
            }
            summary = std::move(*completed);
        }
        postgres::merge_wal_summary(changed, *summary);
    }
    auto live = summarize_live(pgdata, postgres::wal_file_name(last, segment_size), timeline, *to);
    if (!live) return Failure(live.error());
    postgres::merge_wal_summary(changed, *live);
    return changed;
}

}  // namespace lifeboat::postgres_physical
