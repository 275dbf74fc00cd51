#include "drivers/postgres_physical/wal_transfer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "drivers/postgres_physical/wal_changes.hpp"
#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/repository.hpp"
#include "repository/wal_summary_store.hpp"
#include "sources/postgres/wal.hpp"
#include "sources/postgres/wal_summary.hpp"
#include "util/parallel.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_physical {

namespace {

// The system identifier of the WAL a repository already holds, for a repository that never
// recorded one (written by an older version, without backups): read from its newest segment.
Result<std::optional<std::string>> identifier_of_stored_wal(const Storage& storage) {
    auto names = LB_TRY(repo::list_wal_names(storage));
    std::reverse(names.begin(), names.end());
    for (const auto& name : names) {
        const auto kind = postgres::classify_wal_file(name);
        if (kind != postgres::WalFileKind::segment && kind != postgres::WalFileKind::partial)
            continue;
        auto content = repo::fetch_wal(storage, name);
        if (!content && content.error().code != ErrorCode::corrupt)
            return std::unexpected(content.error());
        const auto header =
            content ? postgres::read_segment_header(*content)
                    : Result<postgres::WalSegmentHeader>(std::unexpected(content.error()));
        if (!header) continue;  // a damaged object says nothing; verify names it
        return std::optional<std::string>(std::to_string(header->system_identifier));
    }
    return std::optional<std::string>();
}

// Summarises the segment's block references for incremental backups, before the segment is
// stored (docs/repository-format.md, "WAL summaries"). Never fails the push: a segment without a
// summary only makes the next incremental backup read more.
void store_summary(Storage& storage, const fs::path& path, std::string_view content,
                   const OperationContext& ctx) {
    const std::string name = path.filename().string();
    const auto header = postgres::read_segment_header(content);
    if (!header) return;
    const auto segment = postgres::parse_wal_file_name(name, header->segment_size);
    if (!segment) return;
    auto summary = postgres::summarize_wal_segment(content, segment->timeline, std::nullopt);
    if (summary && !summary->complete) {
        // Usually the last record's block headers cut by the segment's end: the server has
        // flushed the rest of that record to the next segment before archiving this one.
        summary = postgres::summarize_wal_segment(
            content, segment->timeline, std::nullopt,
            next_segment_head(path.parent_path(), name, header->segment_size));
    }
    if (!summary) {
        ctx.warn(fmt::format("no WAL summary for {}: {}", name, summary.error().message));
        return;
    }
    auto stored = repo::store_wal_summary(storage, name, postgres::encode_wal_summary(*summary));
    if (!stored) {
        ctx.warn(fmt::format("no WAL summary for {}: {}", name, stored.error().message));
    }
}

}  // namespace

Status check_same_cluster(Storage& storage, const std::string& found) {
    auto holds = LB_TRY(repo::expected_system_identifier(storage));
    if (!holds) holds = LB_TRY(identifier_of_stored_wal(storage));
    const std::string recorded =
        LB_TRY(repo::record_cluster_identity(storage, holds.value_or(found)));
    if (recorded != found) return std::unexpected(repo::another_cluster_error(found, recorded));
    return {};
}

Result<repo::PushOutcome> wal_push(repo::Repository& repo, const fs::path& path,
                                   const OperationContext& ctx) {
    // archive_command runs wal-push for every segment, and a server shut down in a hurry kills
    // it mid-write: each push sweeps what killed pushes left, so temporaries cannot pile up
    // between backups. Best effort: archiving must not fail for want of a cleanup.
    (void)repo.clean_stale_temporaries();
    const std::string name = path.filename().string();
    const auto kind = postgres::classify_wal_file(name);
    if (kind == postgres::WalFileKind::unknown) {
        return fail(ErrorCode::usage,
                    "{} is not a WAL segment, .partial, .history or .backup file name", name);
    }
    const std::string content = LB_TRY(read_file(path));
    // Nothing that could never be restored enters the archive: once stored under its name, a
    // wrong file would also block the right one forever (stored objects are never replaced).
    const WalFileFacts facts = LB_TRY(check_wal_file(repo.storage(), name, content));
    if (facts.system_identifier) {
        LB_CHECK(check_same_cluster(repo.storage(), *facts.system_identifier));
    }
    repo::WalMeta meta;
    meta.name = name;
    meta.pushed = ctx.now();
    if (kind == postgres::WalFileKind::segment) {
        auto span = postgres::scan_commit_times(content);
        if (!span) return std::unexpected(span.error().context("{}", path.string()));
        meta.first_commit = span->first_commit;
        meta.last_commit = span->last_commit;
        meta.commits = span->commits;
        store_summary(repo.storage(), path, content, ctx);
    }
    return repo::push_wal(repo.storage(), std::move(meta), content, repo.config().compression_level,
                          ctx);
}

namespace {

constexpr std::string_view k_spool_name = "lifeboat-prefetch";
// The segments the running prefetcher is fetching, one name per line.
constexpr std::string_view k_plan_name = ".plan";
// How long a wal-fetch waits at most for a segment the prefetcher is fetching.
constexpr auto k_prefetch_wait_limit = std::chrono::seconds(30);

// True when a process holds the spool's lock: a prefetcher is at work.
bool prefetcher_running(const fs::path& spool) {
    const int lock = ::open((spool / ".lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (lock < 0) return false;
    const bool held = ::flock(lock, LOCK_SH | LOCK_NB) != 0;
    ::close(lock);
    return held;
}

// Moves `name` from the spool to `destination` once the running prefetcher has stored it, when
// its plan names it: fetching it here too would only race the prefetcher for the same object
// (on a busy machine the prefetcher's four fetches at once and this one each take longer than
// replaying a segment, and every call lost the race). False, without waiting, when no prefetcher
// runs or its plan does not name the segment; false after it ends without storing it.
bool wait_for_prefetch(const fs::path& spool, const std::string& name,
                       const fs::path& destination) {
    if (!prefetcher_running(spool)) return false;
    const auto plan = read_file(spool / k_plan_name);
    if (!plan || plan->find(name + "\n") == std::string::npos) return false;
    const auto deadline = std::chrono::steady_clock::now() + k_prefetch_wait_limit;
    for (;;) {
        if (::rename((spool / name).c_str(), destination.c_str()) == 0) return true;
        if (!prefetcher_running(spool)) {
            return ::rename((spool / name).c_str(), destination.c_str()) == 0;
        }
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// Names the segments the lock's holder is about to fetch: a wal-fetch that misses one of them
// waits for it rather than fetch it a second time (wait_for_prefetch).
Status write_plan(const fs::path& spool, const std::vector<std::string>& names) {
    std::string plan;
    for (const auto& name : names)
        plan += name + "\n";
    return write_file_atomic(spool / k_plan_name, plan, Durability::none);
}

// True when `spool` lies in the pg_wal of a data directory whose recovery is over (PostgreSQL
// removed recovery.signal and standby.signal): nothing will ask for the spooled segments. A spool
// outside a data directory (wal-fetch called by hand) never counts as over.
bool recovery_is_over(const fs::path& spool) {
    const fs::path data_dir = spool.parent_path().parent_path();
    std::error_code ec;
    return fs::exists(data_dir / "PG_VERSION", ec) &&
           !fs::exists(data_dir / "recovery.signal", ec) &&
           !fs::exists(data_dir / "standby.signal", ec);
}

// Segments fetched at once ahead of replay. From a local directory the fetch is CPU work
// (decompressing, checking): one at a time, so that on two cores it leaves one to PostgreSQL's
// replay (two fetching threads slowed the restore's replay, 3.15-3.32 s of redo against
// 2.86-3.01 s on pgbench SCALE=100), two where there are cores to spare. An object store answers
// each request after a round trip, so more than one in flight hides it: two fetch a segment per
// ~25 ms at 40 ms per request, faster than replay consumes them. Each fetch holds its stored
// object (up to a segment, 16 MiB, when WAL does not compress) and 1 MiB of decompressed content
// at a time: from S3, incompressible WAL, the prefetch process peaked at 72 MiB with three in
// flight, within 64 MiB with two.
unsigned fetches_in_flight(const Storage& storage) {
    if (!storage.features().local_path) return 2;
    return std::thread::hardware_concurrency() > 2 ? 2 : 1;
}

// Fetches archived `name` into `path` atomically, streamed: memory holds the stored object, not
// the decompressed segment. ErrorCode::not_found when the archive does not have it.
Result<repo::WalMeta> fetch_wal_file(const Storage& storage, const std::string& name,
                                     const fs::path& path) {
    auto file = LB_TRY(AtomicFileWriter::create(path));
    auto meta = LB_TRY(repo::fetch_wal_to(
        storage, name, [&file](std::string_view piece) { return file.write(piece); }));
    LB_CHECK(file.commit(Durability::none));
    return meta;
}

// wal-fetch's own fetch of `name` into `destination`: streamed from the archive, or, for a
// segment wal-stream is still receiving, from its chunks. At the end of the archive
// (ErrorCode::not_found for a segment) recovery is finishing: the spool goes.
Status fetch_archived(const Storage& storage, const std::string& name,
                      const fs::path& destination) {
    auto fetched = fetch_wal_file(storage, name, destination);
    if (fetched) return {};
    const bool is_segment = postgres::classify_wal_file(name) == postgres::WalFileKind::segment;
    if (fetched.error().code != ErrorCode::not_found || !is_segment)
        return std::unexpected(fetched.error());
    auto content = fetch_segment_or_stream(storage, name);
    if (!content) {
        std::error_code ec;
        if (content.error().code == ErrorCode::not_found)
            fs::remove_all(fs::absolute(destination).parent_path() / k_spool_name, ec);
        return std::unexpected(content.error());
    }
    return write_file_atomic(destination, *content, Durability::none);
}

// Fetches the segments after `current` into `spool` until `count` are there or one is missing,
// several at once (handed out in order, so the next ones needed come first). Runs in the
// detached prefetch process; failures only end the prefetching.
void prefetch_segments(const repo::Repository& repo, const fs::path& spool,
                       const postgres::WalSegment& current, std::uint64_t segment_size,
                       unsigned count) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(spool, ec)) {
        const std::string file = entry.path().filename().string();
        const auto spooled = postgres::parse_wal_file_name(file, segment_size);
        if (spooled && *spooled <= current) fs::remove(entry.path(), ec);  // already replayed
    }
    std::vector<std::string> missing;
    for (unsigned i = 1; i <= count; ++i) {
        std::string next =
            postgres::wal_file_name({current.timeline, current.segno + i}, segment_size);
        if (!fs::exists(spool / next, ec)) missing.push_back(std::move(next));
    }
    (void)write_plan(spool, missing);
    const unsigned threads = std::max(
        1u, std::min(fetches_in_flight(repo.storage()), static_cast<unsigned>(missing.size())));
    // A failure (a segment not archived yet, recovery over) stops the hand-out of the rest.
    (void)parallel_for(missing.size(), threads, [&](std::size_t i, unsigned) -> Status {
        if (recovery_is_over(spool)) return fail(ErrorCode::interrupted, "recovery is over");
        LB_TRY(fetch_wal_file(repo.storage(), missing[i], spool / missing[i]));
        return {};
    });
    fs::remove(spool / k_plan_name, ec);
    if (recovery_is_over(spool)) fs::remove_all(spool, ec);
}

// Starts the prefetch process, detached, so PostgreSQL's restore_command returns at once. A new
// process rather than a fork: a fork of this process (which may have threads, from libcurl's
// resolver for one) could inherit a lock held by a thread that does not exist in the child.
void start_prefetcher(const WalFetchOptions& options, const fs::path& spool,
                      std::uint64_t segment_size) {
    std::vector<std::string> argv = options.prefetch_command;
    argv.insert(argv.end(),
                {"--spool", spool.string(), "--after", options.name, "--segment-size",
                 std::to_string(segment_size), "--count", std::to_string(options.prefetch)});
    (void)spawn_detached(argv);  // no prefetch is slower, not wrong
}

// True when a prefetcher holds the spool's lock (it is fetching) or the `count` segments after
// `current` are all spooled already: a new prefetcher would have nothing to do. Lets a segment
// served from the spool return without opening the repository (a round trip or more on an object
// store) or starting a process.
bool prefetch_is_ahead(const fs::path& spool, const postgres::WalSegment& current,
                       std::uint64_t segment_size, unsigned count) {
    if (prefetcher_running(spool)) return true;
    std::error_code ec;
    for (unsigned i = 1; i <= count; ++i) {
        const std::string next =
            postgres::wal_file_name({current.timeline, current.segno + i}, segment_size);
        if (!fs::exists(spool / next, ec)) return false;
    }
    return true;
}

}  // namespace

Status wal_fetch(const RepositoryOpener& open_repository, const WalFetchOptions& options) {
    // Absolute (not resolved: pg_wal may be a link), so the prefetcher finds the data directory.
    const fs::path spool = fs::absolute(options.destination).parent_path() / k_spool_name;
    const bool is_segment =
        postgres::classify_wal_file(options.name) == postgres::WalFileKind::segment;
    std::error_code ec;
    std::uint64_t segment_size = 0;
    if (is_segment && (::rename((spool / options.name).c_str(), options.destination.c_str()) == 0 ||
                       wait_for_prefetch(spool, options.name, options.destination))) {
        segment_size = fs::file_size(options.destination, ec);
    }
    // Once the file is in place (from the spool), nothing below may fail the call.
    const bool from_spool = segment_size != 0;
    if (from_spool && options.prefetch != 0) {
        const auto current = postgres::parse_wal_file_name(options.name, segment_size);
        if (current && prefetch_is_ahead(spool, *current, segment_size, options.prefetch))
            return {};
    }
    auto repo = open_repository();
    if (!repo && !from_spool) return std::unexpected(repo.error());
    if (!from_spool) {
        LB_CHECK(fetch_archived(repo->storage(), options.name, options.destination));
        segment_size = fs::file_size(options.destination, ec);
    }
    if (!repo) return {};
    if (!is_segment || options.prefetch == 0 || options.prefetch_command.empty()) return {};
    const auto current = postgres::parse_wal_file_name(options.name, segment_size);
    if (!current || !postgres::is_valid_wal_segment_size(segment_size)) return {};
    if (!ensure_directory(spool)) return {};
    start_prefetcher(options, spool, segment_size);
    return {};
}

Status wal_prefetch(const RepositoryOpener& open_repository, const WalPrefetchOptions& options) {
    if (!postgres::is_valid_wal_segment_size(options.segment_size))
        return fail(ErrorCode::usage, "wal-prefetch: bad segment size {}", options.segment_size);
    const auto current = postgres::parse_wal_file_name(options.after, options.segment_size);
    if (!current) return fail(ErrorCode::usage, "wal-prefetch: {} is not a segment", options.after);
    const int lock = ::open((options.spool / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) return {};
    // One prefetcher at a time; the lock goes with the process.
    if (::flock(lock, LOCK_EX | LOCK_NB) == 0) {
        auto repo = open_repository();
        if (repo) {
            prefetch_segments(*repo, options.spool, *current, options.segment_size, options.count);
        }
    }
    ::close(lock);
    return {};
}

unsigned fill_prefetch_spool(const Storage& storage, const SpoolFill& fill,
                             const std::atomic<bool>& stop) {
    if (fill.count == 0 || !postgres::is_valid_wal_segment_size(fill.segment_size)) return 0;
    const fs::path spool = fill.data_dir / "pg_wal" / k_spool_name;
    std::error_code ec;
    fs::create_directories(spool, ec);
    if (ec) return 0;
    const auto give = [&](const fs::path& path) {
        if (fill.owner) (void)::lchown(path.c_str(), fill.owner->uid, fill.owner->gid);
    };
    give(fill.data_dir / "pg_wal");
    give(spool);
    const int lock = ::open((spool / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) return 0;
    give(spool / ".lock");
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock);
        return 0;
    }
    std::vector<std::string> names;
    for (unsigned i = 0; i < fill.count; ++i) {
        const postgres::WalSegment segment{fill.first.timeline, fill.first.segno + i};
        if (fill.last && segment > *fill.last) break;
        names.push_back(postgres::wal_file_name(segment, fill.segment_size));
    }
    if (write_plan(spool, names)) give(spool / k_plan_name);
    // The files are still being written when this starts: recovery is over only once it began
    // (recovery.signal seen) and ended.
    std::atomic<bool> recovery_began = false;
    std::atomic<unsigned> spooled = 0;
    // Handed out in order; past a segment that ends the fill (missing, or the one holding the
    // target), nothing more is fetched.
    std::atomic<std::size_t> end = names.size();
    const unsigned threads = fetches_in_flight(storage);
    (void)parallel_for(names.size(), threads, [&](std::size_t i, unsigned) -> Status {
        if (i >= end.load()) return {};
        std::error_code exists_error;
        if (!recovery_began)
            recovery_began = fs::exists(fill.data_dir / "recovery.signal", exists_error);
        if (stop.load() || (recovery_began && recovery_is_over(spool))) {
            end = 0;
            return {};
        }
        const auto fetched = fetch_wal_file(storage, names[i], spool / names[i]);
        // Not archived (yet): wal-fetch takes over from here.
        if (!fetched) {
            std::size_t expected = end.load();
            while (i < expected && !end.compare_exchange_weak(expected, i)) {
            }
            return {};
        }
        give(spool / names[i]);
        ++spooled;
        // The first commit past the target is in this segment (or an earlier one): recovery
        // stops in it and asks for nothing after it.
        if (fill.until && fetched->last_commit && *fetched->last_commit > *fill.until) {
            std::size_t expected = end.load();
            while (i + 1 < expected && !end.compare_exchange_weak(expected, i + 1)) {
            }
        }
        return {};
    });
    fs::remove(spool / k_plan_name, ec);
    ::close(lock);
    return spooled.load();
}

Status retire_prefetch(const fs::path& data_dir, std::chrono::milliseconds timeout,
                       const OperationContext& ctx) {
    const fs::path spool = data_dir / "pg_wal" / k_spool_name;
    std::error_code ec;
    if (!fs::exists(spool, ec)) return {};
    const int lock = ::open((spool / ".lock").c_str(), O_RDWR | O_CLOEXEC);
    if (lock >= 0) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::close(lock);
                ctx.warn(fmt::format("a WAL prefetch process still runs in {}; it stops by itself",
                                     spool.string()));
                return {};
            }
            if (auto slept = ctx.sleep_for(std::chrono::milliseconds(20)); !slept) {
                ::close(lock);
                return slept;
            }
        }
        ::close(lock);
    }
    fs::remove_all(spool, ec);
    return {};
}

}  // namespace lifeboat::postgres_physical
