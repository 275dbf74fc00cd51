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
#include "drivers/postgres_physical/wal_spool.hpp"
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

// How long a wal-fetch waits at most for a segment the prefetcher is fetching.
constexpr auto k_prefetch_wait_limit = std::chrono::seconds(30);

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
        if (take_spooled(spool, name, destination)) return true;
        if (!prefetcher_running(spool)) return take_spooled(spool, name, destination);
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
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

// Follows the replay from the segment after `current` on, keeping `count` segments spooled ahead
// of it, several fetched at once (handed out in order, so the next ones needed come first). Runs
// in the detached prefetch process, until a segment is missing, the recovery is over, the server
// stopped, or the replay took nothing for a while; failures only end the prefetching.
void prefetch_segments(const repo::Repository& repo, const fs::path& spool,
                       const postgres::WalSegment& current, std::uint64_t segment_size,
                       unsigned count) {
    std::error_code ec;
    // Segments left in a spool of their own and already replayed go (pg_wal's are the server's).
    const bool own_segments = segment_home(spool) == spool;
    for (const auto& entry : fs::directory_iterator(spool, ec)) {
        if (!own_segments) break;
        const std::string file = entry.path().filename().string();
        const auto spooled = postgres::parse_wal_file_name(file, segment_size);
        if (spooled && *spooled <= current) fs::remove(entry.path(), ec);
    }
    (void)follow_spool(
        repo.storage(),
        SpoolFollow{.spool = spool,
                    .first = {current.timeline, current.segno + 1},
                    .segment_size = segment_size,
                    .window = count,
                    .over = [&spool] { return recovery_is_over(spool) || server_is_gone(spool); }});
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
    const fs::path home = segment_home(spool);
    for (unsigned i = 1; i <= count; ++i) {
        const std::string next =
            postgres::wal_file_name({current.timeline, current.segno + i}, segment_size);
        if (!fs::exists(home / next, ec)) return false;
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
    if (is_segment) note_asked(spool, options.name);
    if (is_segment && (take_spooled(spool, options.name, options.destination) ||
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
    // Spooled segments wait in pg_wal marked archived (wal_spool.hpp): the restored directory
    // has archive_status (a backup keeps it, empty); PostgreSQL would create it at its start.
    fs::create_directories(fill.data_dir / "pg_wal" / "archive_status", ec);
    if (ec) return 0;
    give(fill.data_dir / "pg_wal");
    give(fill.data_dir / "pg_wal" / "archive_status");
    give(spool);
    const int lock = ::open((spool / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) return 0;
    give(spool / ".lock");
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock);
        return 0;
    }
    // The files are still being written when this starts: recovery is over only once it began
    // (recovery.signal seen) and ended.
    std::atomic<bool> recovery_began = false;
    const unsigned spooled = follow_spool(
        storage,
        SpoolFollow{.spool = spool,
                    .first = fill.first,
                    .segment_size = fill.segment_size,
                    .window = fill.count,
                    .last = fill.last,
                    .until = fill.until,
                    .over =
                        [&] {
                            std::error_code exists_error;
                            if (!recovery_began)
                                recovery_began =
                                    fs::exists(fill.data_dir / "recovery.signal", exists_error);
                            return stop.load() || (recovery_began && recovery_is_over(spool));
                        },
                    .owner = fill.owner});
    ::close(lock);
    return spooled;
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
