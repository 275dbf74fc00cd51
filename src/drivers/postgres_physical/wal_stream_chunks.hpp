// Streamed WAL chunks (docs/repository-format.md, "Streamed WAL chunks"): `wal-stream` stores the
// bytes of the segment it is receiving as immutable WALF objects named
// "stream/<segment>/<start>-<end>" (<segment>: the 24-digit segment file name; <start>, <end>:
// byte offsets in the segment, 8 upper-case hex digits, end exclusive), keyed
// "wal/stream/<segment>/<start>-<end>" (a folder per segment, so that one listing finds a
// segment's chunks on every backend). A completed segment is stitched into the segment object
// of that name and its chunks are deleted. Nothing else in the WAL area starts with "stream/", so
// code that only knows segment names skips chunks (they classify as WalFileKind::unknown).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/storage.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_physical {

inline constexpr std::string_view k_stream_chunk_prefix = "stream/";

struct StreamChunk {
    std::string segment;  // "000000010000000000000003"
    std::uint64_t start = 0;
    std::uint64_t end = 0;  // exclusive; end > start
    auto operator<=>(const StreamChunk&) const = default;
};

std::string stream_chunk_name(const StreamChunk& chunk);
// Inverse of stream_chunk_name: nullopt for any other name (wrong prefix, widths, lower-case
// hex, end not after start).
std::optional<StreamChunk> parse_stream_chunk_name(std::string_view name);

// The chunks among `chunks` (of one segment, any order, overlaps allowed) that cover the
// segment without a hole from offset 0, in order: each starts at or before the previous one's
// end and reaches past it (the one reaching furthest wins). Empty when none starts at 0.
std::vector<StreamChunk> contiguous_run(std::vector<StreamChunk> chunks);

// The chunks the repository holds for `segment`, parsed and in name order.
Result<std::vector<StreamChunk>> list_stream_chunks(const Storage& storage,
                                                    const std::string& segment);

// The streamed prefix of `segment`: the bytes of its contiguous run (contiguous_run), read and
// checked object by object; nullopt when no chunk starts at offset 0. ErrorCode::corrupt when a
// chunk's size is not what its name says.
Result<std::optional<std::string>> read_streamed_prefix(const Storage& storage,
                                                        const std::string& segment);

// What restore_command hands PostgreSQL for segment `name`: the archived segment, or else its
// streamed prefix zero-filled to the segment size (the size its first page declares), where
// replay stops cleanly at the first invalid record, as at the end of a .partial file.
// ErrorCode::not_found when neither exists. Other WAL file names: fetch_wal.
Result<std::string> fetch_segment_or_stream(const Storage& storage, const std::string& name);

}  // namespace lifeboat::postgres_physical
