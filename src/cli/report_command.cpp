// report: the disaster-recovery report a team reviews every quarter, generated from the truth
// (repositories, backups, WAL, drills) instead of written by hand. Markdown and JSON here; the
// HTML page is engine/report_html (shared with the agent's status page).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "engine/catalog.hpp"
#include "engine/drill.hpp"
#include "engine/report.hpp"
#include "engine/report_html.hpp"

namespace lifeboat::cli {

using engine::RepositoryReport;
using nlohmann::json;

namespace {

std::string seconds_text(double s) {
    if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
    if (s >= 60) return fmt::format("{:.1f} min", s / 60);
    return fmt::format("{:.1f} s", s);
}

// The source the newest backup was taken of: its kind, identity and server version.
json source_json(const engine::Catalog& c) {
    if (c.backups.empty()) return json(nullptr);
    const auto& src = c.backups.back().source;
    return {{"kind", src.kind},
            {"system_identifier", src.system_identifier},
            {"server_version", src.server_version}};
}

std::string source_text(const engine::Catalog& c) {
    if (c.backups.empty()) return "-";
    const auto& src = c.backups.back().source;
    return fmt::format("{} (system identifier {}, server version {})", src.kind,
                       src.system_identifier.empty() ? "-" : src.system_identifier,
                       src.server_version);
}

json report_json(const std::vector<RepositoryReport>& reports, Timestamp now) {
    json out = {{"generated", format_iso8601(now)}, {"repositories", json::array()}};
    for (const auto& r : reports) {
        const auto& c = r.catalog;
        json damaged = json::array();
        for (const auto& d : c.damaged)
            damaged.push_back({{"object", d.key}, {"reason", d.reason}});
        json drills = json::array();
        for (auto it = r.drills.rbegin(); it != r.drills.rend() && drills.size() < 5; ++it) {
            drills.push_back({{"id", it->id},
                              {"started", format_iso8601(it->started)},
                              {"passed", it->passed},
                              {"rto_seconds", it->total_seconds},
                              {"backup", it->backup_id}});
        }
        out["repositories"].push_back(
            {{"name", r.name},
             {"location", r.location},
             {"source", source_json(c)},
             {"backups", c.backups.size()},
             {"newest_backup", c.backups.empty() ? json(nullptr) : json(c.backups.back().id)},
             {"window_earliest",
              c.window.earliest ? json(format_iso8601(*c.window.earliest)) : json(nullptr)},
             {"window_latest",
              c.window.latest ? json(format_iso8601(*c.window.latest)) : json(nullptr)},
             {"rpo_seconds",
              r.newest_wal_pushed
                  ? json(static_cast<double>(now.micros - r.newest_wal_pushed->micros) / 1e6)
                  : json(nullptr)},
             {"retention", r.retention},
             {"backups_outside_retention", r.outside_retention},
             {"backup_interval_seconds",
              r.backup_interval ? json(*r.backup_interval) : json(nullptr)},
             {"newest_backup_age_seconds",
              c.backups.empty()
                  ? json(nullptr)
                  : json(static_cast<double>(now.micros - c.backups.back().stop_time.micros) /
                         1e6)},
             {"stored_bytes", c.stored_bytes},
             {"logical_bytes", c.logical_bytes},
             {"drills", drills},
             {"damaged", damaged}});
    }
    return out;
}

std::string markdown(const std::vector<RepositoryReport>& reports, Timestamp now) {
    std::string md = fmt::format("# Disaster-recovery report\n\nGenerated {} by Lifeboat.\n\n",
                                 format_iso8601(now));
    for (const auto& r : reports) {
        const auto& c = r.catalog;
        // A repository given by its location has no other name: say it once.
        md += r.name == r.location ? fmt::format("## Repository `{}`\n\n", r.location)
                                   : fmt::format("## Repository `{}` ({})\n\n", r.name, r.location);
        md += "| item | value |\n| --- | --- |\n";
        md += fmt::format("| source | {} |\n", source_text(c));
        md += fmt::format("| backups | {} (newest {}) |\n", c.backups.size(),
                          c.backups.empty() ? "none" : c.backups.back().id);
        md += fmt::format(
            "| backup schedule (observed) | {}; newest backup {} ago |\n",
            r.backup_interval ? "every " + seconds_text(*r.backup_interval) +
                                    " (median gap between the last backups)"
                              : std::string("fewer than two backups"),
            c.backups.empty()
                ? std::string("-")
                : seconds_text(static_cast<double>(now.micros - c.backups.back().stop_time.micros) /
                               1e6));
        md += fmt::format(
            "| retention in force | {}; {} backup(s) outside it (`lifeboat expire "
            "--dry-run` lists them) |\n",
            r.retention, r.outside_retention);
        md += fmt::format("| restorable window | {} |\n", c.window.describe());
        md += fmt::format(
            "| measured RPO (age of the newest archived WAL) | {} |\n",
            r.newest_wal_pushed
                ? seconds_text(static_cast<double>(now.micros - r.newest_wal_pushed->micros) / 1e6)
                : "no WAL archived");
        md += fmt::format("| stored | {} |\n", stored_summary(c.stored_bytes, c.logical_bytes));
        std::size_t passed = 0;
        for (const auto& d : r.drills)
            passed += d.passed;
        md += fmt::format("| drills | {} recorded, {} passed |\n", r.drills.size(), passed);
        for (const auto& d : c.damaged) {
            md +=
                fmt::format("| DAMAGED `{}` | {} (left out; `lifeboat repair` moves it aside) |\n",
                            d.key, d.reason);
        }
        md += "\n";
        if (!r.drills.empty()) {
            md += "Last drills:\n\n| drill | result | backup | RTO |\n| --- | --- | --- | --- |\n";
            int shown = 0;
            for (auto it = r.drills.rbegin(); it != r.drills.rend() && shown < 5; ++it, ++shown) {
                md += fmt::format(
                    "| {} | {} | {} | {} |\n", it->id, it->passed ? "PASSED" : "FAILED",
                    it->backup_id.empty() ? "-" : it->backup_id, seconds_text(it->total_seconds));
            }
            md += "\n";
        }
        md += "Steps to restore from this repository:\n\n```sh\n";
        md += fmt::format("lifeboat list --repo '{}'\n", r.location);
        md += fmt::format(
            "lifeboat restore --repo '{}' --to <TIME|latest> --target-dir <NEW_DIR> "
            "--port <PORT> --start\n",
            r.location);
        md +=
            "lifeboat validate --pg \"host=<SOCKET_DIR> port=<PORT> dbname=<DB>\" --checks "
            "<CHECKS.toml>\n```\n\n";
    }
    return md;
}

}  // namespace

Status run_report_command(const Settings& s, const ReportArgs& args, OutputFormat format) {
    // --json is --format json; with another --format the two disagree, and neither may win
    // silently: refused before any work is done.
    if (format == OutputFormat::json && !args.format.empty() && args.format != "json") {
        return fail(ErrorCode::usage,
                    "--json and --format {} ask for different outputs: give one of them "
                    "(--json is the same as --format json)",
                    args.format);
    }
    std::vector<std::pair<std::string, std::string>> targets;
    if (auto repo = s.find("repo")) {
        targets.emplace_back(*repo, s.repository_location(*repo));
    } else {
        for (const auto& r : s.repositories())
            targets.emplace_back(r.name, r.location);
    }
    if (targets.empty())
        return fail(ErrorCode::usage, "--repo is required (or name repositories in --config)");
    const std::string kind = format == OutputFormat::json ? "json"
                             : args.format.empty()        ? "markdown"
                                                          : args.format;
    engine::Report report{.generated = command_context().now(), .repositories = {}};
    const Timestamp now = report.generated;
    for (const auto& [name, location] : targets) {
        const engine::RetentionPolicy policy = LB_TRY(retention_policy(s, location));
        // Opened once, with its own key: one key derivation per repository.
        const repo::Repository repository = LB_TRY(open_repository(s, location));
        report.repositories.push_back(
            LB_TRY(engine::gather_repository_report(repository, name, location, policy, now)));
    }
    const auto& reports = report.repositories;
    if (kind == "json") {
        std::printf("%s\n", report_json(reports, now).dump(2).c_str());
    } else if (kind == "html") {
        std::fputs(engine::render_report_html(report).c_str(), stdout);
    } else {
        std::printf("%s", markdown(reports, now).c_str());
    }
    std::vector<repo::DamagedObject> damaged;
    for (const auto& r : reports)
        damaged.insert(damaged.end(), r.catalog.damaged.begin(), r.catalog.damaged.end());
    return damaged_objects_status(damaged);
}

}  // namespace lifeboat::cli
