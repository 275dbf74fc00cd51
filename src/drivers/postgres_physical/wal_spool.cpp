#include "drivers/postgres_physical/wal_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "util/parallel.hpp"

namespace lifeboat::postgres_physical {

namespace {

// How often a follower with a full spool looks whether the replay took a segment: a segment
// replays in tens of milliseconds at the fastest.
constexpr auto k_follow_poll = std::chrono::milliseconds(5);

// A flushed segment's write-out is started every this many bytes as it is fetched, so the flush
// at its end waits for the last run only.
constexpr std::uint64_t k_writeback_run = 4 << 20;

// Spooled segments are flushed (fdatasync) by the fetching thread before they get their names.
// PostgreSQL fsyncs every segment restored from the archive before it replays it (durable_rename
// of RECOVERYXLOG, in the startup process): a segment flushed ahead leaves that fsync nothing to
// write. 288 segments of vacuum-heavy pgbench WAL, page cache dropped, alternated runs: redo
// 27.5-34.9 s (median 32.4 s, 7 runs) with the segments left dirty, 22.8-31.7 s (median 25.9 s,
// 10 runs) flushed ahead (docs/performance.md).
constexpr Durability k_spooled_durability = Durability::content;

bool file_exists(const fs::path& path) {
    std::error_code ec;
    return fs::exists(path, ec);
}

// The data directory a spool lies in, when it lies in one's pg_wal.
std::optional<fs::path> data_directory_of(const fs::path& spool) {
    fs::path data_dir = spool.parent_path().parent_path();
    if (!file_exists(data_dir / "PG_VERSION")) return std::nullopt;
    return data_dir;
}

}  // namespace

fs::path segment_home(const fs::path& spool) {
    // By the path's shape, not by the data directory's files: a restore fills the spool while it
    // still writes them, and the fetching and the taking must agree from the first segment on.
    const fs::path pg_wal = spool.parent_path();
    std::error_code ec;
    return pg_wal.filename() == "pg_wal" && fs::is_directory(pg_wal / "archive_status", ec) ? pg_wal
                                                                                            : spool;
}

fs::path archived_mark(const fs::path& pg_wal, const std::string& name) {
    return pg_wal / "archive_status" / (name + ".done");
}

void note_asked(const fs::path& spool, const std::string& name) {
    // Written in place, as the shell's `echo` does: a reader may find it empty, never wrong.
    const int fd =
        ::open((spool / k_asked_name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const std::string line = name + "\n";
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
}

bool take_spooled(const fs::path& spool, const std::string& name, const fs::path& destination) {
    const fs::path home = segment_home(spool);
    if (home != spool && !file_exists(archived_mark(home, name))) return false;
    return ::rename((home / name).c_str(), destination.c_str()) == 0;
}

bool prefetcher_running(const fs::path& spool) {
    const int lock = ::open((spool / ".lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (lock < 0) return false;
    const bool held = ::flock(lock, LOCK_SH | LOCK_NB) != 0;
    ::close(lock);
    return held;
}

namespace {

Status give(AtomicFileWriter& file, const std::optional<UserAccount>& owner) {
    return owner ? file.give_to(owner->uid, owner->gid) : Status{};
}

}  // namespace

Status write_plan(const fs::path& spool, const std::vector<std::string>& names,
                  const std::optional<UserAccount>& owner) {
    std::string plan;
    for (const auto& name : names)
        plan += name + "\n";
    auto file = LB_TRY(AtomicFileWriter::create(spool / k_plan_name));
    LB_CHECK(file.write(plan));
    LB_CHECK(give(file, owner));
    return file.commit(Durability::none);
}

bool recovery_is_over(const fs::path& spool) {
    const auto data_dir = data_directory_of(spool);
    return data_dir && !file_exists(*data_dir / "recovery.signal") &&
           !file_exists(*data_dir / "standby.signal");
}

bool server_is_gone(const fs::path& spool) {
    const auto data_dir = data_directory_of(spool);
    return data_dir && !file_exists(*data_dir / "postmaster.pid");
}

// Two segments in flight, from a local directory as from an object store. Locally a fetch is
// CPU work (decompressing, checking) and then a wait for the disk (each spooled segment is
// flushed): two overlap one's flush with the other's work. A replay that reads spooled segments
// from pg_wal outruns one fetching thread: 288 segments of vacuum-heavy pgbench WAL, SCALE=100,
// 2 cores, redo 24.3-25.1 s with one (115-123 segments missed the spool and went through
// wal-fetch), 19.4-21.9 s with two (17-26 missed), 20.8-21.7 s with three (none missed, less CPU
// left to the replay). An object store answers each request after a round trip, so more than one
// in flight hides it: two fetch a segment per ~25 ms at 40 ms per request. Each fetch holds its
// stored object (up to a segment, 16 MiB, when WAL does not compress) and 1 MiB of decompressed
// content at a time: from S3, incompressible WAL, the prefetch process peaked at 72 MiB with three
// in flight, within 64 MiB with two.
unsigned fetches_in_flight(const Storage&) {
    return 2;
}

namespace {

// An empty file, given to `owner` (when given). Created in place: only its presence counts, and a
// temporary name would be left in archive_status by a process killed mid-way.
Status create_mark(const fs::path& path, const std::optional<UserAccount>& owner) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(ErrorCode::io, "cannot create {}: {}", path.string(), errno_text(errno));
    const bool given = !owner || ::fchown(fd, owner->uid, owner->gid) == 0;
    const int err = errno;
    ::close(fd);
    if (!given) {
        ::unlink(path.c_str());
        return fail(ErrorCode::io, "cannot give {} to uid {}: {}", path.string(), owner->uid,
                    errno_text(err));
    }
    return {};
}

}  // namespace

Result<repo::WalMeta> fetch_wal_file(const Storage& storage, const std::string& name,
                                     const fs::path& path, const WalFilePlacement& placement) {
    auto file = LB_TRY(placement.temporary_dir.empty()
                           ? AtomicFileWriter::create(path)
                           : AtomicFileWriter::create(path, placement.temporary_dir));
    std::uint64_t unstarted = 0;  // written since the last start of write-out
    auto meta = LB_TRY(repo::fetch_wal_to(storage, name, [&](std::string_view piece) -> Status {
        LB_CHECK(file.write(piece));
        unstarted += piece.size();
        if (placement.durability != Durability::none && unstarted >= k_writeback_run) {
            file.start_writeback();
            unstarted = 0;
        }
        return Status{};
    }));
    LB_CHECK(give(file, placement.owner));
    LB_CHECK(file.commit(placement.durability));
    // Marked only once complete under its name: a mark never stands beside a file that is not
    // this segment. Without its mark the file is not the spool's to offer; it goes.
    if (!placement.mark.empty()) {
        if (auto marked = create_mark(placement.mark, placement.owner); !marked) {
            ::unlink(path.c_str());
            return std::unexpected(marked.error());
        }
    }
    return meta;
}

namespace {

// The segment number in ".asked", when it names a segment.
std::optional<std::uint64_t> asked_segno(const fs::path& spool, std::uint64_t segment_size) {
    char text[64];
    const int fd = ::open((spool / k_asked_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    const ssize_t n = ::read(fd, text, sizeof text);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    std::string_view name(text, static_cast<std::size_t>(n));
    while (!name.empty() && (name.back() == '\n' || name.back() == ' '))
        name.remove_suffix(1);
    const auto segment = postgres::parse_wal_file_name(name, segment_size);
    if (!segment) return std::nullopt;
    return segment->segno;
}

}  // namespace

unsigned follow_spool(const Storage& storage, const SpoolFollow& follow) {
    if (follow.window == 0 || !postgres::is_valid_wal_segment_size(follow.segment_size)) return 0;
    const auto name_at = [&](std::uint64_t i) {
        return postgres::wal_file_name({follow.first.timeline, follow.first.segno + i},
                                       follow.segment_size);
    };
    std::uint64_t limit = std::numeric_limits<std::uint32_t>::max();
    if (follow.last) {
        if (follow.last->timeline != follow.first.timeline ||
            follow.last->segno < follow.first.segno)
            return 0;
        limit = follow.last->segno - follow.first.segno + 1;
    }
    // Nothing at or past `end` is fetched: lowered by a missing segment, `until`, or the end.
    std::atomic<std::uint64_t> end = limit;
    const auto end_at = [&end](std::uint64_t i) {
        std::uint64_t expected = end.load();
        while (i < expected && !end.compare_exchange_weak(expected, i)) {
        }
    };
    const fs::path home = segment_home(follow.spool);
    const bool in_pg_wal = home != follow.spool;
    std::mutex mutex;                 // guards what follows
    std::set<std::uint64_t> waiting;  // spooled, not yet taken
    std::set<std::uint64_t> flying;   // being fetched
    std::uint64_t next_admitted = 0;  // the next segment to be given room
    auto progress = std::chrono::steady_clock::now();
    std::atomic<unsigned> spooled = 0;

    // Waits until the spool has room for segment `i`, then marks it in flight and names it (and
    // the window after it) in the plan. False when the following is to end.
    const auto wait_for_room = [&](std::uint64_t i) {
        for (;;) {
            if (i >= end.load()) return false;
            if (follow.over && follow.over()) {
                end_at(0);
                return false;
            }
            const auto asked = asked_segno(follow.spool, follow.segment_size);
            const auto taken = [&](std::uint64_t j) {
                return (asked && *asked >= follow.first.segno + j) ||
                       !file_exists(home / name_at(j));
            };
            {
                std::lock_guard lock(mutex);
                const auto now = std::chrono::steady_clock::now();
                // The replay takes segments in order: the oldest go first.
                while (!waiting.empty() && taken(*waiting.begin())) {
                    waiting.erase(waiting.begin());
                    progress = now;
                }
                // Room goes to the segments in order: the next one the replay needs never
                // waits behind a later one.
                if (i == next_admitted && waiting.size() + flying.size() < follow.window) {
                    ++next_admitted;
                    flying.insert(i);
                    std::vector<std::string> plan;
                    const std::uint64_t plan_end = std::min(i + follow.window, end.load());
                    for (std::uint64_t j = *flying.begin(); j < plan_end; ++j)
                        plan.push_back(name_at(j));
                    (void)write_plan(follow.spool, plan, follow.owner);
                    return true;
                }
                if (std::chrono::duration_cast<std::chrono::milliseconds>(now - progress) >
                    follow.idle_limit) {
                    end_at(0);
                    return false;
                }
            }
            std::this_thread::sleep_for(k_follow_poll);
        }
    };

    const unsigned threads = std::max(1u, std::min(fetches_in_flight(storage), follow.window));
    (void)parallel_for(limit, threads, [&](std::size_t i, unsigned) -> Status {
        if (!wait_for_room(i)) return fail(ErrorCode::interrupted, "the prefetch ended");
        const std::string name = name_at(i);
        const fs::path path = home / name;
        WalFilePlacement placement{.owner = follow.owner, .durability = k_spooled_durability};
        if (in_pg_wal) {
            placement.temporary_dir = follow.spool;
            placement.mark = archived_mark(home, name);
        }
        // Spooled already (by a prefetcher before this one): waiting to be taken.
        std::optional<Result<repo::WalMeta>> fetched;
        if (!file_exists(path) || (in_pg_wal && !file_exists(placement.mark)))
            fetched = fetch_wal_file(storage, name, path, placement);
        std::lock_guard lock(mutex);
        flying.erase(i);
        progress = std::chrono::steady_clock::now();
        if (fetched && !*fetched) {
            // Not archived (yet): wal-fetch takes over from here.
            end_at(i);
            return fail(ErrorCode::interrupted, "the prefetch ended");
        }
        waiting.insert(i);
        if (!fetched) return {};
        ++spooled;
        // The first commit past the target is in this segment (or an earlier one): recovery
        // stops in it and asks for nothing after it.
        if (follow.until && (*fetched)->last_commit && *(*fetched)->last_commit > *follow.until)
            end_at(i + 1);
        return {};
    });
    std::error_code ec;
    fs::remove(follow.spool / k_plan_name, ec);
    return spooled.load();
}

}  // namespace lifeboat::postgres_physical
