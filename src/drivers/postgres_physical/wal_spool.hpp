// The prefetch spool: WAL segments fetched ahead of PostgreSQL's replay into
// "pg_wal/lifeboat-prefetch", complete and checked (written to a temporary name, then renamed),
// so that restore_command only has to move one into place.
//
// restore_command tries exactly that first, in the shell, before it runs wal-fetch at all
// (`mv -f pg_wal/lifeboat-prefetch/%f %p 2>/dev/null || lifeboat wal-fetch …`): starting the
// lifeboat binary costs ~20 ms of dynamic linking per segment, which on a replay of hundreds of
// segments held the startup process up longer than the redo itself.
//
// One process at a time fills a spool: the holder of its lock file (".lock"). It names the
// segments it is about to fetch in ".plan", one per line, so that a wal-fetch that misses one
// waits for it instead of fetching it a second time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repository/wal_archive.hpp"
#include "sources/postgres/wal.hpp"
#include "storage/storage.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/time.hpp"

namespace lifeboat::postgres_physical {

// The spool's directory, inside pg_wal (restore_command names it relative to the data directory,
// PostgreSQL's working directory).
inline constexpr std::string_view k_spool_name = "lifeboat-prefetch";
inline constexpr std::string_view k_plan_name = ".plan";

// True when a process holds the spool's lock: a prefetcher is at work.
bool prefetcher_running(const fs::path& spool);

// Names the segments the lock's holder is about to fetch (the file given to `owner`, if any).
Status write_plan(const fs::path& spool, const std::vector<std::string>& names,
                  const std::optional<UserAccount>& owner = std::nullopt);

// True when `spool` lies in the pg_wal of a data directory whose recovery is over (PostgreSQL
// removed recovery.signal and standby.signal): nothing will ask for the spooled segments. A spool
// outside a data directory (wal-fetch called by hand) never counts as over.
bool recovery_is_over(const fs::path& spool);

// True when `spool` lies in the pg_wal of a data directory with no server running in it (no
// postmaster.pid): nothing takes the spooled segments until one starts. A spool outside a data
// directory never counts.
bool server_is_gone(const fs::path& spool);

// Segments fetched at once (see the definition for the measurements behind it).
unsigned fetches_in_flight(const Storage& storage);

// Fetches archived `name` into `path` atomically, streamed: memory holds the stored object, not
// the decompressed segment. ErrorCode::not_found when the archive does not have it. With `owner`,
// the file is that account's before it appears under its name.
Result<repo::WalMeta> fetch_wal_file(const Storage& storage, const std::string& name,
                                     const fs::path& path,
                                     const std::optional<UserAccount>& owner = std::nullopt,
                                     Durability durability = Durability::none);

// How a spool follows a replay.
struct SpoolFollow {
    fs::path spool;
    postgres::WalSegment first;  // the first segment to fetch
    std::uint64_t segment_size = 0;
    // At most this many segments spooled and not yet taken (in flight included): the spool's
    // disk space, and how far ahead of the replay the fetching runs.
    unsigned window = 8;
    std::optional<postgres::WalSegment> last;  // none after this one (a position target)
    std::optional<Timestamp> until;            // none after the first whose commits pass this time
    // Asked before each fetch and while waiting for room: true ends the following.
    std::function<bool()> over;
    // The account the files the following creates (segments, plans) belong to, given before
    // they appear under their names: restore_command, run by the server as this account, may
    // move a segment away the moment it appears. None: the running account's.
    std::optional<UserAccount> owner;
    // Ends the following when a full spool had nothing taken from it for this long (the server
    // stopped, or replays another timeline): a later wal-fetch starts a new prefetcher.
    std::chrono::milliseconds idle_limit = std::chrono::seconds(10);
};

// Fetches the segments from `follow.first` on into the spool, in order, keeping at most `window`
// of them there: as the replay takes one (restore_command moves it away), the next is fetched.
// Stops at a segment the archive does not have, after `last` or `until`, when `over()` says so,
// or after `idle_limit` without progress. The caller holds the spool's lock. Never fails (a
// segment not spooled is fetched by wal-fetch itself); returns how many segments it spooled.
unsigned follow_spool(const Storage& storage, const SpoolFollow& follow);

}  // namespace lifeboat::postgres_physical
