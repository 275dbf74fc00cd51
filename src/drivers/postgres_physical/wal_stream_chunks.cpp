#include "drivers/postgres_physical/wal_stream_chunks.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_physical {

namespace {

std::optional<std::uint64_t> parse_hex8(std::string_view text) {
    if (text.size() != 8) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit < 0) return std::nullopt;
        value = value * 16 + static_cast<std::uint64_t>(digit);
    }
    return value;
}

}  // namespace

std::string stream_chunk_name(const StreamChunk& chunk) {
    return fmt::format("{}{}/{:08X}-{:08X}", k_stream_chunk_prefix, chunk.segment, chunk.start,
                       chunk.end);
}

std::optional<StreamChunk> parse_stream_chunk_name(std::string_view name) {
    if (!name.starts_with(k_stream_chunk_prefix)) return std::nullopt;
    name.remove_prefix(k_stream_chunk_prefix.size());
    if (name.size() != 24 + 1 + 8 + 1 + 8 || name[24] != '/' || name[33] != '-')
        return std::nullopt;
    const std::string segment(name.substr(0, 24));
    if (postgres::classify_wal_file(segment) != postgres::WalFileKind::segment) return std::nullopt;
    const auto start = parse_hex8(name.substr(25, 8));
    const auto end = parse_hex8(name.substr(34, 8));
    if (!start || !end || *end <= *start) return std::nullopt;
    return StreamChunk{segment, *start, *end};
}

std::vector<StreamChunk> contiguous_run(std::vector<StreamChunk> chunks) {
    std::vector<StreamChunk> run;
    std::uint64_t reached = 0;
    for (;;) {
        const StreamChunk* best = nullptr;
        for (const auto& c : chunks) {
            if (c.start <= reached && c.end > reached && (!best || c.end > best->end)) best = &c;
        }
        if (!best) break;
        reached = best->end;
        run.push_back(*best);
    }
    return run;
}

Result<std::vector<StreamChunk>> list_stream_chunks(const Storage& storage,
                                                    const std::string& segment) {
    const auto objects =
        LB_TRY(storage.list(repo::wal_key(std::string(k_stream_chunk_prefix) + segment + "/")));
    std::vector<StreamChunk> chunks;
    for (const auto& o : objects) {
        auto chunk = parse_stream_chunk_name(repo::wal_name_of_key(o.key));
        if (chunk && chunk->segment == segment) chunks.push_back(std::move(*chunk));
    }
    std::sort(chunks.begin(), chunks.end());
    return chunks;
}

Result<std::optional<std::string>> read_streamed_prefix(const Storage& storage,
                                                        const std::string& segment) {
    const auto run = contiguous_run(LB_TRY(list_stream_chunks(storage, segment)));
    if (run.empty()) return std::optional<std::string>();
    std::string prefix;
    for (const auto& chunk : run) {
        const std::string name = stream_chunk_name(chunk);
        const std::string content = LB_TRY(repo::fetch_wal(storage, name));
        if (content.size() != chunk.end - chunk.start) {
            return fail(ErrorCode::corrupt,
                        "streamed WAL chunk {} holds {} bytes, its name says {}", name,
                        content.size(), chunk.end - chunk.start);
        }
        // Overlapping chunks hold the same WAL: only the part past what is already there counts.
        prefix.append(content, prefix.size() - chunk.start);
    }
    return std::optional<std::string>(std::move(prefix));
}

Result<std::string> fetch_segment_or_stream(const Storage& storage, const std::string& name) {
    auto content = repo::fetch_wal(storage, name);
    if (content || content.error().code != ErrorCode::not_found ||
        postgres::classify_wal_file(name) != postgres::WalFileKind::segment) {
        return content;
    }
    auto prefix = LB_TRY(read_streamed_prefix(storage, name));
    if (!prefix) return std::unexpected(content.error());
    const auto header = postgres::read_segment_header(*prefix);
    if (!header) return std::unexpected(header.error().context("streamed WAL of {}", name));
    if (prefix->size() > header->segment_size) {
        return fail(ErrorCode::corrupt, "streamed WAL of {} is longer than a segment", name);
    }
    prefix->resize(header->segment_size, '\0');
    return std::move(*prefix);
}

}  // namespace lifeboat::postgres_physical
