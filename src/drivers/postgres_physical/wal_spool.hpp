// The prefetch spool: WAL segments fetched ahead of PostgreSQL's replay, complete and checked
// (written to a temporary name, flushed, then renamed), so that the replay never waits for a fetch.
//
// In a data directory (the spool is "pg_wal/lifeboat-prefetch") the segments wait in pg_wal itself,
// under their own names, each marked archived once it is in place ("pg_wal/archive_status/
// <name>.done", as PostgreSQL marks a segment it restored from the archive). restore_command's
// shell sees a marked one there and fails at once, and PostgreSQL, as it does for any segment
// restore_command does not provide, reads it from pg_wal:
//   { echo %f >pg_wal/lifeboat-prefetch/.asked; } 2>/dev/null;
//   [ -f pg_wal/%f ] && [ -f pg_wal/archive_status/%f.done ] && exit 1; exec lifeboat wal-fetch …
// Everything before `exec` is the shell's own (no process started, no file renamed, nothing
// fsynced per segment): starting the lifeboat binary costs ~20 ms of dynamic linking, and moving
// a spooled segment into place with `mv` still ~12 ms per segment, which on a replay of hundreds
// of segments held the startup process up for seconds. The mark, created only after the complete
// segment got its name, keeps the rule "restored from the archive" true: a file in pg_wal without
// it is never taken for the segment — one a WAL receiver is still writing, or an old segment that
// a restartpoint with wal_recycle on renamed to a future name for reuse (its content is garbage
// for that name; the spool then renames the fetched segment over it before marking it). The `echo`
// leaves the name PostgreSQL asked for in ".asked": how far the replay has come, so the spool
// keeps its window ahead of it.
// Elsewhere (wal-fetch run by hand into some directory) the segments wait in the spool directory
// and wal-fetch moves them into place.
//
// One process at a time fills a spool: the holder of its lock file (".lock"). It names the
// segments it is about to fetch in ".plan", one per line, so that a wal-fetch that misses one
// waits for it instead of fetching it a second time. Temporaries are written in the spool
// directory, never in pg_wal.
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
inline constexpr std::string_view k_asked_name = ".asked";

// Where the spool's segments wait: pg_wal when the spool lies in a pg_wal directory that has its
// archive_status (a data directory's), else the spool itself.
fs::path segment_home(const fs::path& spool);

// The archive status that marks a segment waiting in pg_wal as complete.
fs::path archived_mark(const fs::path& pg_wal, const std::string& name);

// Records `name` as the file PostgreSQL asked for last (what restore_command's shell does).
// Best effort.
void note_asked(const fs::path& spool, const std::string& name);

// Moves spooled segment `name` to `destination`: from pg_wal only when marked archived. False
// when it is not there.
bool take_spooled(const fs::path& spool, const std::string& name, const fs::path& destination);

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

// How fetch_wal_file lays a file down.
struct WalFilePlacement {
    // The account the file belongs to before it appears under its name. None: the running one's.
    std::optional<UserAccount> owner;
    Durability durability = Durability::none;
    fs::path temporary_dir;  // where it is written first (empty: beside it)
    fs::path mark;           // created empty (the owner's) once the file has its name
};

// Fetches archived `name` into `path` atomically, streamed: memory holds the stored object, not
// the decompressed segment. ErrorCode::not_found when the archive does not have it.
Result<repo::WalMeta> fetch_wal_file(const Storage& storage, const std::string& name,
                                     const fs::path& path, const WalFilePlacement& placement = {});

// How a spool follows a replay.
struct SpoolFollow {
    fs::path spool;
    postgres::WalSegment first;  // the first segment to fetch
    std::uint64_t segment_size = 0;
    // At most this many segments spooled and not yet taken (in flight included): how far ahead
    // of the replay the fetching runs. Taken: asked for (".asked" names it or a later one), or
    // gone from where it waited.
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
// of them waiting: as the replay takes one, the next is fetched.
// Stops at a segment the archive does not have, after `last` or `until`, when `over()` says so,
// or after `idle_limit` without progress. The caller holds the spool's lock. Never fails (a
// segment not spooled is fetched by wal-fetch itself); returns how many segments it spooled.
unsigned follow_spool(const Storage& storage, const SpoolFollow& follow);

}  // namespace lifeboat::postgres_physical
