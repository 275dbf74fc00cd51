// lifeboat check: is WAL archiving working end to end (engine/archive_check.hpp)?
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "drivers/postgres_physical/archive_check.hpp"
#include "util/fs.hpp"

namespace lifeboat::cli {

namespace {

using nlohmann::json;

json time_json(const std::optional<Timestamp>& t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

json name_json(const std::string& name) {
    return name.empty() ? json(nullptr) : json(name);
}

json report_json(const postgres_physical::ArchiveCheckReport& r) {
    json arrivals = json::array();
    for (const auto& a : r.arrivals) {
        arrivals.push_back({{"name", a.name},
                            {"location", a.location},
                            {"arrived", a.seconds.has_value()},
                            {"seconds", a.seconds ? json(*a.seconds) : json(nullptr)}});
    }
    json j = {{"ok", r.ok()},
              {"problem", r.ok() ? json(nullptr) : json(r.problem)},
              {"server_version", r.server_version},
              {"archive_mode", r.settings.archive_mode},
              {"archive_command_set", !r.settings.archive_command.empty()},
              {"in_recovery", r.settings.in_recovery},
              {"segment", name_json(r.segment)},
              {"repositories", arrivals},
              {"archiver", nullptr}};
    if (r.archiver) {
        const auto& a = *r.archiver;
        j["archiver"] = {{"archived_count", a.archived_count},
                         {"last_archived_wal", name_json(a.last_archived_wal)},
                         {"last_archived_time", time_json(a.last_archived_time)},
                         {"failed_count", a.failed_count},
                         {"last_failed_wal", name_json(a.last_failed_wal)},
                         {"last_failed_time", time_json(a.last_failed_time)},
                         {"stats_reset", time_json(a.stats_reset)}};
    }
    return j;
}

std::string named(const std::string& name, const std::string& location) {
    return name == location ? location : name + " " + location;
}

void print_report(const postgres_physical::ArchiveCheckReport& r) {
    std::printf("source        PostgreSQL %d.%d, archive_mode %s, archive_command %s\n",
                r.server_version / 10000, r.server_version % 10000, r.settings.archive_mode.c_str(),
                r.settings.archive_command.empty() ? "empty" : "set");
    if (!r.segment.empty())
        std::printf("switched WAL  segment %s finished by check\n", r.segment.c_str());
    for (const auto& a : r.arrivals) {
        if (r.segment.empty()) break;
        if (a.seconds) {
            std::printf("repository    %s: has %s (%s after the switch)\n",
                        named(a.name, a.location).c_str(), r.segment.c_str(),
                        format_seconds(*a.seconds).c_str());
        } else {
            std::printf("repository    %s: does NOT have %s\n", named(a.name, a.location).c_str(),
                        r.segment.c_str());
        }
    }
    if (r.archiver) {
        const auto& a = *r.archiver;
        std::printf("archiver      %llu archived (last %s at %s), %llu failed",
                    static_cast<unsigned long long>(a.archived_count),
                    a.last_archived_wal.empty() ? "-" : a.last_archived_wal.c_str(),
                    a.last_archived_time ? format_iso8601(*a.last_archived_time).c_str() : "-",
                    static_cast<unsigned long long>(a.failed_count));
        if (a.failed_count > 0) {
            std::printf(" (last %s at %s)", a.last_failed_wal.c_str(),
                        a.last_failed_time ? format_iso8601(*a.last_failed_time).c_str() : "-");
        }
        std::printf("\n");
    }
    std::printf("%s\n", r.ok() ? "archiving works" : "archiving is NOT working");
}

}  // namespace

Status run_check_command(const Settings& s, const CheckArgs& args, const std::string& config_file,
                         OutputFormat format) {
    postgres_physical::ArchiveCheckOptions options;
    std::vector<repo::Repository> repositories;
    for (const auto& location : LB_TRY(archive_repositories(s))) {
        repositories.push_back(LB_TRY(open_repository(s, location)));
        postgres_physical::ArchiveCheckRepository target{location, location};
        for (const auto& r : s.repositories())
            if (r.location == location) target.name = r.name;
        options.repositories.push_back(std::move(target));
    }
    options.conninfo = s.get("pg");
    options.timeout = std::chrono::seconds(args.timeout);
    options.pg_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    // archive_command runs in the data directory: suggest absolute paths.
    const auto absolute = [](const std::string& path) {
        std::error_code ec;
        if (path.find("://") != std::string::npos) return path;
        const auto out = fs::absolute(path, ec);
        return ec ? path : out.lexically_normal().string();
    };
    options.suggested_archive_command =
        config_file.empty()
            ? fmt::format("lifeboat wal-push %p --repo {}",
                          absolute(options.repositories.front().location))
            : fmt::format("lifeboat wal-push %p --config {}", absolute(config_file));
    ProgressLine progress;
    auto report = postgres_physical::check_archive(repositories, options,
                                                   command_context(progress.callback()));
    progress.clear();
    if (!report) return std::unexpected(report.error());
    if (format == OutputFormat::json) {
        std::printf("%s\n", report_json(*report).dump(2).c_str());
    } else {
        print_report(*report);
    }
    if (!report->ok()) return fail(ErrorCode::check_failed, "{}", report->problem);
    return {};
}

}  // namespace lifeboat::cli
