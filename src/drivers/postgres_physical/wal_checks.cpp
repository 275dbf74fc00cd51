#include "drivers/postgres_physical/wal_checks.hpp"

#include <algorithm>

#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/manifest.hpp"
#include "repository/wal_archive.hpp"
#include "sources/postgres/timeline_history.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_physical {

namespace {

// Names the file in an error from a check of its content.
template <typename T>
Result<T> about(Result<T> result, const std::string& name) {
    if (!result) return std::unexpected(result.error().context("{}", name));
    return result;
}

// A segment whose first pages carry a parent timeline must hold the switch into its own.
Status check_timeline_switch(const Storage& storage, const std::string& name,
                             postgres::WalSegment segment, std::uint64_t segment_size,
                             std::uint32_t first_timeline) {
    const std::string history_name = fmt::format("{:08X}.history", segment.timeline);
    auto history = repo::fetch_wal(storage, history_name);
    if (!history) {
        if (history.error().code != ErrorCode::not_found) return std::unexpected(history.error());
        return fail(ErrorCode::corrupt,
                    "{} starts with pages of timeline {}, and {} is not archived, so nothing "
                    "shows that timeline {} begins in this segment (a segment of another "
                    "timeline under a new name?)",
                    name, first_timeline, history_name, segment.timeline);
    }
    const auto parsed =
        LB_TRY(about(postgres::parse_timeline_history(segment.timeline, *history), history_name));
    if (parsed.ancestors.empty()) {
        return fail(ErrorCode::corrupt, "{}: {} names no parent timeline", name, history_name);
    }
    const postgres::Lsn switch_point = parsed.ancestors.back().switch_lsn;
    if (postgres::segment_of(switch_point, segment.timeline, segment_size).segno != segment.segno) {
        return fail(ErrorCode::corrupt,
                    "{} starts with pages of timeline {}, but timeline {} began at {} ({}), not "
                    "in this segment",
                    name, first_timeline, segment.timeline, postgres::format_lsn(switch_point),
                    history_name);
    }
    return {};
}

}  // namespace

Result<WalFileFacts> check_wal_file(const Storage& storage, const std::string& name,
                                    std::string_view content) {
    WalFileFacts facts;
    switch (postgres::classify_wal_file(name)) {
        case postgres::WalFileKind::segment:
        case postgres::WalFileKind::partial: {
            const auto completeness =
                postgres::classify_wal_file(name) == postgres::WalFileKind::partial
                    ? postgres::SegmentCompleteness::partial
                    : postgres::SegmentCompleteness::complete;
            const auto header = LB_TRY(about(postgres::read_segment_header(content), name));
            const auto segment =
                postgres::parse_wal_file_name(name.substr(0, 24), header.segment_size);
            if (!segment) {
                return fail(ErrorCode::corrupt,
                            "{}: the name is not a segment of the {}-byte segments its header "
                            "declares",
                            name, header.segment_size);
            }
            const auto timelines =
                LB_TRY(about(postgres::check_segment_pages(content, *segment, completeness), name));
            if (timelines.first < segment->timeline) {
                LB_CHECK(check_timeline_switch(storage, name, *segment, header.segment_size,
                                               timelines.first));
            }
            facts.system_identifier = std::to_string(header.system_identifier);
            return facts;
        }
        case postgres::WalFileKind::history: {
            const auto timeline =
                static_cast<std::uint32_t>(std::stoul(name.substr(0, 8), nullptr, 16));
            const auto parsed =
                LB_TRY(about(postgres::parse_timeline_history(timeline, content), name));
            if (parsed.ancestors.empty()) {
                return fail(ErrorCode::corrupt, "{}: a timeline history that names no parent",
                            name);
            }
            return facts;
        }
        case postgres::WalFileKind::backup_label:
            LB_CHECK(about(postgres::check_backup_history(content, name), name));
            return facts;
        case postgres::WalFileKind::unknown:
            break;
    }
    if (const auto chunk = parse_stream_chunk_name(name)) {
        // A streamed chunk (wal_stream_chunks.hpp): its size is in its name, and the first one
        // of a segment starts with the segment's long header.
        if (content.size() != chunk->end - chunk->start) {
            return fail(ErrorCode::corrupt, "{}: {} bytes, its name says {}", name, content.size(),
                        chunk->end - chunk->start);
        }
        if (chunk->start == 0) {
            const auto header = LB_TRY(about(postgres::read_segment_header(content), name));
            const auto segment = postgres::parse_wal_file_name(chunk->segment, header.segment_size);
            if (!segment || header.page_address != segment->segno * header.segment_size) {
                return fail(ErrorCode::corrupt, "{}: the first page is not that of segment {}",
                            name, chunk->segment);
            }
            facts.system_identifier = std::to_string(header.system_identifier);
            LB_TRY(about(postgres::check_segment_pages(content, *segment,
                                                       postgres::SegmentCompleteness::partial),
                         name));
            return facts;
        }
        // A chunk after a hole (a chunk lost from the middle) is WAL no restore can reach: the
        // stream replays from offset 0 without a hole. Once the segment object is stored, left
        // chunks are only redundant.
        const auto run = contiguous_run(LB_TRY(list_stream_chunks(storage, chunk->segment)));
        const std::uint64_t reached = run.empty() ? 0 : run.back().end;
        if (chunk->start > reached) {
            auto stitched = storage.stat(repo::wal_key(chunk->segment));
            if (!stitched && stitched.error().code != ErrorCode::not_found)
                return std::unexpected(stitched.error());
            if (!stitched) {
                return fail(ErrorCode::corrupt,
                            "{}: the streamed chunks of segment {} reach offset {} without a "
                            "hole, this one starts at {}: the WAL between is missing",
                            name, chunk->segment, reached, chunk->start);
            }
        }
        return facts;
    }
    return fail(ErrorCode::usage,
                "{} is not a WAL segment, .partial, .history or .backup file name", name);
}

}  // namespace lifeboat::postgres_physical
