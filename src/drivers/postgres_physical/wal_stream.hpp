// wal-stream: WAL received over physical streaming replication, stored in the repository as
// immutable chunks (wal_stream_chunks.hpp) until cancelled. The CLI's `lifeboat wal-stream` runs
// it in the foreground.
//
// What it does:
// - On a physical replication connection (replication=true): IDENTIFY_SYSTEM, whose system
//   identifier must be the repository's (ErrorCode::conflict otherwise; recorded when the
//   repository has none yet); the slot is read (READ_REPLICATION_SLOT) and created when missing
//   (CREATE_REPLICATION_SLOT <slot> PHYSICAL RESERVE_WAL).
// - Starts (START_REPLICATION SLOT <slot> PHYSICAL <pos> TIMELINE <tli>, the server's current
//   timeline) at the end of what the repository already stores for that timeline (archived
//   segments, or the contiguous chunks of the newest streamed segment), or else at the start of
//   the segment holding the slot's restart_lsn, whichever is later.
// - Received bytes are stored as a chunk (repo::push_wal, durable once it returns) at the latest
//   `flush_interval` after the first byte it holds, when `chunk_bound` bytes are held, or when
//   the segment ends; only then is the chunk's end reported to the server as written and flushed
//   (standby status update), so the slot never passes what is stored.
// - A chunk's metadata carries the commit span of its segment from offset 0 to the chunk's end
//   (what the restorable window reads). A completed segment is checked and stored as the segment
//   object of its name (same content already archived by archive_command: accepted; different
//   content: ErrorCode::conflict, the chunks stay), then its chunks are deleted. That stitching
//   runs on its own thread (wal_stream_stitch.hpp), so chunks keep their flush cadence while a
//   segment is compressed and stored; a stitch failure ends the run at the next loop turn.
//   Segments whose chunks are whole but were never stitched (a killed run) are stitched when
//   a run starts.
// - Synchronous mode (StreamMode::synchronous): the connection's application_name is the slot's
//   name (unless the conninfo sets one), so that synchronous_standby_names can name it, and
//   every piece of WAL is stored and reported as soon as it arrives: a commit waiting for this
//   standby returns only once its WAL is in the repository.
// - On cancellation (SIGTERM/SIGINT in the CLI) it stores what it holds and returns the summary.
// - Connection loss or the end of the server's timeline: flushes what it holds, then connects
//   again to `conninfo` or one of `fallbacks` (first that answers, retried for
//   `reconnect_timeout`). On a timeline above 1 the server's history file (TIMELINE_HISTORY) is
//   stored as the `.history` object (same content already stored: accepted) and streaming of a
//   timeline with nothing stored starts at the segment holding its switch point. The slot is
//   created where missing (slots are not copied to standbys).
// - Preflight: warns when max_slot_wal_keep_size is -1 (the slot may fill the source's disk) or
//   the slot's wal_status is 'unreserved'; the summary carries both and safe_wal_size.
// - A WAL gap (the slot held WAL the repository lacks and released it, or was invalidated: then
//   it is dropped and created anew) is recorded (repo::record_stream_gap) and ends the run with
//   ErrorCode::conflict, unless a backup of the timeline starts at or after the slot's WAL. A
//   slot created by this run never held the WAL before it: a warning only (archive_command's).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::postgres_physical {

enum class StreamMode { asynchronous, synchronous };

struct WalStreamOptions {
    std::string conninfo;  // a role with REPLICATION (replication=true is added)
    std::string slot = "lifeboat";
    std::chrono::milliseconds flush_interval{200};
    std::size_t chunk_bound = 1024 * 1024;
    StreamMode mode = StreamMode::asynchronous;
    // Tried in turn after `conninfo` when the connection is lost (a promoted standby).
    std::vector<std::string> fallbacks;
    // How long a lost connection or an ended timeline is retried before giving up (0: never).
    std::chrono::seconds reconnect_timeout{60};
};

struct WalStreamSummary {
    std::string slot;
    std::uint32_t timeline = 0;
    std::string system_identifier;
    bool slot_created = false;
    std::string started_from;  // LSN text
    std::string flushed;       // the last position stored and reported to the server
    std::uint64_t chunks = 0;
    std::uint64_t bytes = 0;  // WAL bytes stored in chunks
    std::uint64_t segments_stitched = 0;
    std::uint64_t segments_already_archived = 0;  // stitched segments archive_command had stored
    std::string max_slot_wal_keep_size;           // the source's setting ("-1": unlimited)
    std::string wal_status;     // the slot's, at the last (re)connection ("" when unreadable)
    std::string safe_wal_size;  // bytes the slot may still fall behind ("" when unlimited)
    std::uint64_t timeline_switches = 0;  // timelines followed after the first
};

// Streams until `ctx` is cancelled (then returns the summary) or a failure (the error; what was
// stored before it stays stored and reported, and the next run continues after it).
Result<WalStreamSummary> run_wal_stream(repo::Repository& repository,
                                        const WalStreamOptions& options,
                                        const OperationContext& ctx);

// The value of SHOW wal_segment_size ("16MB", "1GB") in bytes; nullopt when unreadable.
std::optional<std::uint64_t> parse_segment_size_setting(std::string_view text);

}  // namespace lifeboat::postgres_physical
