// Archived WAL files (docs/repository-format.md, "WALF"). The repository layer treats names as
// opaque except for choosing the folder; PostgreSQL semantics live in sources/postgres.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "repository/block.hpp"
#include "storage/storage.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct WalMeta {
    std::string name;
    std::uint64_t raw_size = 0;
    std::string raw_sha256;  // hex
    BlockCodec codec = BlockCodec::zstd;
    std::optional<Timestamp> first_commit;
    std::optional<Timestamp> last_commit;
    std::uint64_t commits = 0;
    Timestamp pushed;
};

// The storage key of a log object: "wal/<first 16 characters>/<name>" for a PostgreSQL
// segment (and .partial/.backup), "wal/history/<name>" for a timeline history, "wal/<name>" for
// a name with a folder of its own ("logical/<start>-<end>", a postgres-logical change log).
std::string wal_key(const std::string& name);
// The object name a key of the log area stores (the inverse of wal_key).
std::string wal_name_of_key(const std::string& key);

// Parses WAL metadata (the JSON `meta` of a WALF payload): types and ranges checked (raw_sha256 is
// 64 hex digits, codec 0 or 1, times in range); ErrorCode::corrupt naming `key` and the field.
// An entry point for fuzzing.
Result<WalMeta> parse_wal_meta(std::string_view text, std::string_view key);

struct WalPayload {
    WalMeta meta;
    std::string_view data;  // the stored file (as `meta.codec` says), a view into the payload
};
// Parses a WALF payload (envelope already checked): meta_length, metadata, data.
Result<WalPayload> parse_wal_payload(std::string_view payload, std::string_view key);

enum class PushOutcome { stored, already_present };

// Stores `content` under `name` unless it is already there. Same content (by SHA-256): success,
// nothing written. Different content: ErrorCode::conflict, the stored object is untouched.
// `meta` supplies the commit span and push time; sizes and hashes are computed here. `ctx`'s
// stages: "wal-push:upload" (the object's upload started, its header written, nothing visible)
// and "wal-push:publish" (every byte written, not yet published).
Result<PushOutcome> push_wal(Storage& storage, WalMeta meta, std::string_view content,
                             int compression_level, const OperationContext& ctx);
Result<PushOutcome> push_wal(Storage& storage, WalMeta meta, std::string_view content,
                             int compression_level);

// A stretch of WAL wal-stream could not store (its slot had released it, or was invalidated):
// recorded as the object "wal-stream-gaps/<timeline 8 hex>-<from 16 hex>-<to 16 hex>" so that the
// restorable window shows it as a gap. `to` is 0 when unknown (an invalidated slot).
struct StreamGap {
    std::uint32_t timeline = 0;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
};
std::string stream_gap_key(const StreamGap& gap);
Status record_stream_gap(Storage& storage, const StreamGap& gap, Timestamp now);
// Every recorded gap (objects under other names are ignored).
Result<std::vector<StreamGap>> list_stream_gaps(const Storage& storage);
// Copies every gap recorded in `from` that `to` lacks (copy: the copy's window shows the same
// gaps); returns how many it wrote.
Result<std::size_t> copy_stream_gaps(const Storage& from, Storage& to);
// The segment name where the earliest recorded gap at or after `start_lsn` ("X/Y", a backup's
// start) begins; nullopt when there is none (or `start_lsn` is unreadable).
Result<std::optional<std::string>> first_stream_gap_segment(const Storage& storage,
                                                            std::string_view start_lsn,
                                                            std::uint64_t segment_size);

// Reads, decompresses and checks a WAL file. ErrorCode::not_found when absent.
Result<std::string> fetch_wal(const Storage& storage, const std::string& name);
// The same, with the metadata stored beside the content (commit times, for one).
struct FetchedWal {
    std::string content;
    WalMeta meta;
};
Result<FetchedWal> fetch_wal_object(const Storage& storage, const std::string& name);
// The same, streamed: hands the content to `sink` in pieces of at most 1 MiB, so memory stays at
// the stored object's size (often a fifth of the content's). The content's size and checksum are
// known to be right only when this returns: a sink that writes the pieces somewhere keeps them
// out of sight until then (ErrorCode::corrupt: damaged; a sink's own error is returned as is).
Result<WalMeta> fetch_wal_to(const Storage& storage, const std::string& name,
                             const std::function<Status(std::string_view)>& sink);

// Reads only the metadata of a stored WAL file (a small ranged read).
Result<WalMeta> read_wal_meta(const Storage& storage, const std::string& name);

// Copies one archived WAL object byte for byte (checked on the way) from one repository's
// storage to another's. Present with the same content: already_present; different: conflict.
Result<PushOutcome> copy_wal_object(const Storage& from, Storage& to, const std::string& name);

// Names of every archived WAL file, sorted.
Result<std::vector<std::string>> list_wal_names(const Storage& storage);

}  // namespace lifeboat::repo
