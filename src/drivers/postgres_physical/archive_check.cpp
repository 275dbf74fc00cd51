#include "drivers/postgres_physical/archive_check.hpp"

#include <thread>

#include "repository/manifest.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::postgres_physical {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto k_storage_poll = std::chrono::milliseconds(100);
constexpr auto k_archiver_poll = std::chrono::milliseconds(500);
// wal-push stores into every repository before PostgreSQL counts a file as archived, so a
// repository still without the segment this long after that is not being archived into.
constexpr auto k_archived_grace = std::chrono::seconds(2);
constexpr auto k_failure_grace = std::chrono::seconds(3);

std::string when(const std::optional<Timestamp>& t) {
    return t ? format_iso8601(*t) : std::string("never");
}

std::string repository_name(const ArchiveCheckRepository& r) {
    return r.name == r.location ? fmt::format("repository {}", r.location)
                                : fmt::format("repository '{}' ({})", r.name, r.location);
}

// pg_stat_archiver's last_archived_wal is at or past `segment` (same timeline). Other archived
// names (.history, .backup, .partial) count by the segment they name.
bool archived_up_to(const std::string& last_archived, const std::string& segment) {
    if (last_archived.size() < 24 || segment.size() != 24) return false;
    return last_archived.compare(0, 8, segment, 0, 8) == 0 &&
           last_archived.compare(0, 24, segment) >= 0;
}

std::string last_success(const postgres::ArchiverStatus& s) {
    if (s.last_archived_wal.empty()) return "no file archived yet";
    return fmt::format("last success {} at {}", s.last_archived_wal, when(s.last_archived_time));
}

// Why archiving is not configured, or "" when it is.
std::string settings_problem(const postgres::ArchiveSettings& s, const std::string& suggestion) {
    if (s.in_recovery) {
        return "the server is in recovery (a standby): run check against the primary, whose "
               "archive_command archives the WAL";
    }
    if (s.archive_mode == "off") {
        return fmt::format(
            "archive_mode is off, so no WAL is archived and no backup can be restored: set "
            "archive_mode = on and archive_command = '{}' in postgresql.conf and restart the "
            "server (archive_mode needs a restart)",
            suggestion);
    }
    if (!s.archive_library.empty()) {
        return fmt::format(
            "archive_library = '{}' is set, so PostgreSQL ignores archive_command: clear "
            "archive_library and set archive_command = '{}'",
            s.archive_library, suggestion);
    }
    if (s.archive_command.empty()) {
        return fmt::format(
            "archive_mode is {} but archive_command is empty: PostgreSQL keeps the WAL and "
            "archives nothing; set archive_command = '{}' and reload the server",
            s.archive_mode, suggestion);
    }
    return "";
}

// A repository whose newest backup is of another cluster would mix two clusters' WAL under the
// same names: wal-push refuses the names that clash, and a restore could not use the rest.
std::string other_cluster_problem(const repo::Repository& repository,
                                  const ArchiveCheckRepository& target,
                                  const std::string& system_identifier) {
    if (system_identifier.empty()) return "";
    const auto ids = repo::list_backup_ids(repository.storage());
    if (!ids || ids->empty()) return "";
    const auto newest = repo::read_manifest(repository.storage(), ids->back());
    if (!newest || newest->source.system_identifier == system_identifier) return "";
    return fmt::format(
        "{} holds backups of another cluster (system identifier {}; this server is {}): give "
        "this server a repository of its own, in archive_command and in every command",
        repository_name(target), newest->source.system_identifier, system_identifier);
}

Result<std::string> failing_problem(postgres::Connection& conn, const ArchiveCheckReport& report,
                                    const std::string& where, const OperationContext& ctx) {
    // The logging collector writes the failure's lines a moment after the count.
    auto logged = postgres::last_archive_failure_in_log(conn);
    for (int retry = 0; !logged && retry < 3; ++retry) {
        LB_CHECK(ctx.sleep_for(std::chrono::milliseconds(200)));
        logged = postgres::last_archive_failure_in_log(conn);
    }
    const auto& a = *report.archiver;
    return fmt::format(
        "archive_command is failing: {} did not reach {}; pg_stat_archiver's last failure is {} "
        "at {} ({} failure(s) in all, {}); {}",
        report.segment, where, a.last_failed_wal, when(a.last_failed_time), a.failed_count,
        last_success(a),
        logged ? "the server log says: " + *logged
               : std::string("the server log has the reason (one `lifeboat: error:` line per "
                             "failed wal-push)"));
}

}  // namespace

Result<ArchiveCheckReport> check_archive(std::span<repo::Repository> repositories,
                                         const ArchiveCheckOptions& options,
                                         const OperationContext& ctx) {
    if (options.repositories.empty()) return fail(ErrorCode::usage, "no repository to check");
    if (repositories.size() != options.repositories.size())
        return fail(ErrorCode::internal, "check_archive: {} repositories for {} names",
                    repositories.size(), options.repositories.size());
    if (options.conninfo.empty()) {
        return fail(ErrorCode::usage,
                    "no PostgreSQL connection given (use --pg CONNINFO or LIFEBOAT_PG)");
    }
    postgres::Connection conn =
        LB_TRY(postgres::Connection::open(options.conninfo, {.statement = options.pg_timeout}));
    ArchiveCheckReport report;
    report.server_version = conn.server_version();
    if (report.server_version / 10000 != 15) {
        return fail(
            ErrorCode::database,
            "the server runs PostgreSQL {}; this version of Lifeboat archives PostgreSQL 15",
            report.server_version);
    }
    report.settings = LB_TRY(postgres::archive_settings(conn));
    report.archiver = LB_TRY(postgres::archiver_status(conn));
    for (const auto& r : options.repositories)
        report.arrivals.push_back({r.name, r.location, std::nullopt});
    report.problem = settings_problem(report.settings, options.suggested_archive_command);
    if (!report.ok()) return report;
    for (std::size_t i = 0; i < repositories.size(); ++i) {
        report.problem = other_cluster_problem(repositories[i], options.repositories[i],
                                               report.settings.system_identifier);
        if (!report.ok()) return report;
    }

    const postgres::ArchiverStatus before = *report.archiver;
    ctx.report({"switching WAL", 0, 0});
    report.segment = LB_TRY(postgres::switch_wal(conn, "lifeboat check"));
    ctx.report({"waiting for " + report.segment, 0, 0});
    const auto switched = Clock::now();
    const auto deadline = switched + options.timeout;
    auto next_archiver_read = switched + k_archiver_poll;
    std::optional<Clock::time_point> archived_at;  // when the archiver first counted it archived
    std::optional<Clock::time_point> failed_at;    // when it first reported a new failure
    const std::string key = repo::wal_key(report.segment);
    for (;;) {
        const auto now = Clock::now();
        std::optional<std::size_t> missing;
        for (std::size_t i = 0; i < repositories.size(); ++i) {
            if (report.arrivals[i].seconds) continue;
            auto found = repositories[i].storage().stat(key);
            if (found) {
                report.arrivals[i].seconds = std::chrono::duration<double>(now - switched).count();
            } else if (found.error().code != ErrorCode::not_found) {
                return std::unexpected(
                    found.error().context("{}", repository_name(options.repositories[i])));
            } else if (!missing) {
                missing = i;
            }
        }
        if (!missing) break;
        const std::string where = repository_name(options.repositories[*missing]);
        if (now >= next_archiver_read) {
            report.archiver = LB_TRY(postgres::archiver_status(conn));
            next_archiver_read = now + k_archiver_poll;
            const auto& a = *report.archiver;
            if (a.failed_count > before.failed_count && !failed_at) failed_at = now;
            if (!archived_at && archived_up_to(a.last_archived_wal, report.segment))
                archived_at = now;
        }
        // A failure since the switch may be the last one of a command replaced just before
        // (PostgreSQL retries at once, up to three times a second apart, with the new one); a
        // failure that outlives those retries is the answer: waiting longer would only hide it.
        if (failed_at && (now - *failed_at >= k_failure_grace || now >= deadline)) {
            report.problem = LB_TRY(failing_problem(conn, report, where, ctx));
            break;
        }
        if (archived_at && now - *archived_at >= k_archived_grace) {
            report.problem = fmt::format(
                "PostgreSQL archived {} (pg_stat_archiver), but it is not in {}: archive_command "
                "does not archive into that repository; give wal-push the same --repo, or the "
                "--config in which it has archive = true",
                report.segment, where);
            break;
        }
        if (now >= deadline) {
            const auto& a = *report.archiver;
            report.problem = fmt::format(
                "{} did not reach {} within {} s, and pg_stat_archiver reports no failure since "
                "the switch ({}): the archiver is behind or archive_command is hanging; count the "
                ".ready files in pg_wal/archive_status and check the server log",
                report.segment, where, options.timeout.count(), last_success(a));
            break;
        }
        LB_CHECK(ctx.sleep_for(k_storage_poll));
    }
    report.archiver = LB_TRY(postgres::archiver_status(conn));
    // The segment is in every repository, but PostgreSQL counts it archived only once
    // archive_command has returned, a moment after the object appeared: the report waits for
    // that (briefly), so that it shows the archiver's view of the same segment.
    const auto counted_by = Clock::now() + k_archived_grace;
    while (report.ok() && !archived_up_to(report.archiver->last_archived_wal, report.segment) &&
           Clock::now() < counted_by) {
        LB_CHECK(ctx.sleep_for(k_storage_poll));
        report.archiver = LB_TRY(postgres::archiver_status(conn));
    }
    return report;
}

}  // namespace lifeboat::postgres_physical
