#include "drivers/postgres_physical/wal_transfer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "drivers/postgres_physical/wal_checks.hpp"
#include "drivers/postgres_physical/wal_stream_chunks.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/repository.hpp"
#include "sources/postgres/wal.hpp"
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
    }
    return repo::push_wal(repo.storage(), std::move(meta), content, repo.config().compression_level,
                          ctx);
}

namespace {

constexpr std::string_view k_spool_name = "lifeboat-prefetch";
constexpr unsigned k_prefetch_threads = 4;

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

// Fetches the segments after `current` into `spool` until `count` are there or one is missing.
// Runs in the detached prefetch process; failures only end the prefetching.
void prefetch_segments(const repo::Repository& repo, const fs::path& spool,
                       const postgres::WalSegment& current, std::uint64_t segment_size,
                       unsigned count) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(spool, ec)) {
        const std::string file = entry.path().filename().string();
        const auto spooled = postgres::parse_wal_file_name(file, segment_size);
        if (spooled && *spooled <= current) fs::remove(entry.path(), ec);  // already replayed
    }
    // Segments are fetched, decompressed and checked on k_prefetch_threads threads, nearest
    // first: replay of one segment is often quicker than fetching it, so one thread at a time
    // falls behind. The first segment missing (the end of the archive) or failing stops the
    // hand-out of further ones.
    (void)parallel_for(count, k_prefetch_threads, [&](std::size_t index, unsigned) -> Status {
        std::error_code ec;
        if (recovery_is_over(spool)) {
            fs::remove_all(spool, ec);
            return fail(ErrorCode::interrupted, "recovery is over");
        }
        const std::string next =
            postgres::wal_file_name({current.timeline, current.segno + 1 + index}, segment_size);
        if (fs::exists(spool / next, ec)) return {};
        const auto content = LB_TRY(repo::fetch_wal(repo.storage(), next));
        return write_file_atomic(spool / next, content, Durability::none);
    });
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

}  // namespace

Status wal_fetch(const RepositoryOpener& open_repository, const WalFetchOptions& options) {
    // Absolute (not resolved: pg_wal may be a link), so the prefetcher finds the data directory.
    const fs::path spool = fs::absolute(options.destination).parent_path() / k_spool_name;
    const bool is_segment =
        postgres::classify_wal_file(options.name) == postgres::WalFileKind::segment;
    std::error_code ec;
    std::uint64_t segment_size = 0;
    if (is_segment && ::rename((spool / options.name).c_str(), options.destination.c_str()) == 0) {
        segment_size = fs::file_size(options.destination, ec);
    }
    // Once the file is in place (from the spool), nothing below may fail the call.
    const bool from_spool = segment_size != 0;
    auto repo = open_repository();
    if (!repo && !from_spool) return std::unexpected(repo.error());
    if (!from_spool) {
        // A segment wal-stream is still receiving comes from its chunks.
        auto content = fetch_segment_or_stream(repo->storage(), options.name);
        if (!content) {
            if (is_segment && content.error().code == ErrorCode::not_found) {
                fs::remove_all(spool, ec);  // the end of the archive: recovery is finishing
            }
            return std::unexpected(content.error());
        }
        LB_CHECK(write_file_atomic(options.destination, *content, Durability::none));
        segment_size = content->size();
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
