#include "drivers/postgres_physical/wal_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
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

// From a local directory the fetch is CPU work (decompressing, checking): one at a time, so that
// on two cores it leaves one to PostgreSQL's replay (two fetching threads slowed the restore's
// replay, 3.15-3.32 s of redo against 2.86-3.01 s on pgbench SCALE=100), two where there are
// cores to spare. An object store answers each request after a round trip, so more than one in
// flight hides it: two fetch a segment per ~25 ms at 40 ms per request, faster than replay
// consumes them. Each fetch holds its stored object (up to a segment, 16 MiB, when WAL does not
// compress) and 1 MiB of decompressed content at a time: from S3, incompressible WAL, the
// prefetch process peaked at 72 MiB with three in flight, within 64 MiB with two.
unsigned fetches_in_flight(const Storage& storage) {
    if (!storage.features().local_path) return 2;
    return std::thread::hardware_concurrency() > 2 ? 2 : 1;
}

Result<repo::WalMeta> fetch_wal_file(const Storage& storage, const std::string& name,
                                     const fs::path& path, const std::optional<UserAccount>& owner,
                                     Durability durability) {
    auto file = LB_TRY(AtomicFileWriter::create(path));
    std::uint64_t unstarted = 0;  // written since the last start of write-out
    auto meta = LB_TRY(repo::fetch_wal_to(storage, name, [&](std::string_view piece) -> Status {
        LB_CHECK(file.write(piece));
        unstarted += piece.size();
        if (durability != Durability::none && unstarted >= k_writeback_run) {
            file.start_writeback();
            unstarted = 0;
        }
        return Status{};
    }));
    LB_CHECK(give(file, owner));
    LB_CHECK(file.commit(durability));
    return meta;
}

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
    std::mutex mutex;                 // guards what follows
    std::deque<std::string> waiting;  // spooled, not yet taken, in order
    std::set<std::uint64_t> flying;   // being fetched
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
            {
                std::lock_guard lock(mutex);
                const auto now = std::chrono::steady_clock::now();
                // The replay takes segments in order: the oldest go first.
                while (!waiting.empty() && !file_exists(follow.spool / waiting.front())) {
                    waiting.pop_front();
                    progress = now;
                }
                if (waiting.size() + flying.size() < follow.window) {
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
        const fs::path path = follow.spool / name;
        // Spooled already (by a prefetcher before this one): waiting to be taken.
        std::optional<Result<repo::WalMeta>> fetched;
        if (!file_exists(path))
            fetched = fetch_wal_file(storage, name, path, follow.owner, k_spooled_durability);
        std::lock_guard lock(mutex);
        flying.erase(i);
        progress = std::chrono::steady_clock::now();
        if (fetched && !*fetched) {
            // Not archived (yet): wal-fetch takes over from here.
            end_at(i);
            return fail(ErrorCode::interrupted, "the prefetch ended");
        }
        waiting.push_back(name);
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
