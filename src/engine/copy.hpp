// copy: copies backups and the WAL they need from one repository to another (for example to a
// second region), transferring only blocks the destination lacks. Blocks travel as stored
// (compressed, never re-encoded) and each is checked against its id before it is written.
//
// Order: packs -> index -> WAL -> manifests, so a backup appears in the destination only once
// everything it needs is there. Resumable: packs of an interrupted copy are adopted by the next
// one, and anything already present (backups, blocks, WAL) is skipped.
//
// Pins and tags travel with the backups. Tags are part of the (immutable) manifest. Pins are
// objects of their own (repository/pins.hpp); for every backup of the copy, whether copied now or
// already there, the destination's pin follows the source's: a pin (with its `until`) is
// written before the backup's manifest, so the backup never appears unpinned; a pin changed at
// the source replaces the one an earlier copy brought; one removed at the source is removed at
// the destination too, if it came from that source. A pin set in the destination itself is the
// destination's own decision and is left as it is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "repository/keys.hpp"
#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::engine {

struct CopyOptions {
    std::optional<std::string> backup_id;  // default: every backup
    unsigned jobs = 0;
    unsigned io_depth = 0;  // ranged reads of the source in flight; 0: its storage's default
};

struct CopyOutcome {
    std::vector<std::string> copied_backups;
    std::vector<std::string> present_backups;  // already in the destination
    std::uint64_t blocks_copied = 0;
    std::uint64_t bytes_copied = 0;  // stored (compressed) bytes
    std::uint64_t blocks_present = 0;
    std::uint64_t requests = 0;       // ranged reads of the source's packs
    std::uint64_t bytes_fetched = 0;  // by them, gaps included
    unsigned io_depth = 0;            // used
    std::size_t wal_copied = 0;
    std::size_t wal_present = 0;
    std::size_t gaps_copied = 0;  // wal-stream gap records (repo::copy_stream_gaps)
    std::size_t adopted_packs = 0;
    std::vector<std::string> pins_written;  // backups whose pin was copied (new or changed)
    std::vector<std::string> pins_removed;  // unpinned at the source since an earlier copy
    // Damage in the source, worked around: damaged objects left behind (other backups are still
    // copied), and the backups that could not be copied because of it.
    std::vector<repo::DamagedObject> damaged;
    struct NotCopied {
        std::string backup_id;
        std::string reason;
    };
    std::vector<NotCopied> not_copied;
};

// Copies from `from` to `to` (both opened by the caller, each with its own keys). Cancelled, it
// stops at the next pack with ErrorCode::interrupted; what it published is adopted by the next
// copy, and no backup appears in `to` before everything it needs is there.
Result<CopyOutcome> run_copy(repo::Repository& from, repo::Repository& to,
                             const CopyOptions& options, const OperationContext& ctx);

}  // namespace lifeboat::engine
