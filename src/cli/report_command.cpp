// report: the disaster-recovery report a team reviews every quarter, generated from the truth
// (repositories, backups, WAL, drills) instead of written by hand. Markdown, HTML or JSON.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "engine/catalog.hpp"
#include "engine/drill.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"

namespace lifeboat::cli {

using nlohmann::json;

namespace {

struct RepositoryReport {
    std::string name;
    std::string location;
    engine::Catalog catalog;
    std::vector<engine::DrillRecord> drills;
    std::optional<Timestamp> newest_wal_pushed;
    std::string retention;                  // the policy in force
    std::size_t outside_retention = 0;      // backups the next expire would remove
    std::optional<double> backup_interval;  // median seconds between the last backups
};

// The schedule as observed: the median gap between the starts of the last (up to 8) backups.
std::optional<double> observed_interval(const std::vector<repo::Manifest>& backups) {
    if (backups.size() < 2) return std::nullopt;
    std::vector<double> gaps;
    for (std::size_t i = backups.size() > 8 ? backups.size() - 8 : 1; i < backups.size(); ++i) {
        gaps.push_back(
            static_cast<double>(backups[i].start_time.micros - backups[i - 1].start_time.micros) /
            1e6);
    }
    std::sort(gaps.begin(), gaps.end());
    return gaps[gaps.size() / 2];
}

Result<RepositoryReport> gather(const Settings& s, const std::string& name,
                                const std::string& location, Timestamp now) {
    RepositoryReport r{name, location, LB_TRY(engine::load_catalog(location)),
                       LB_TRY(engine::read_drills(location)), std::nullopt};
    const engine::RetentionPolicy policy = LB_TRY(retention_policy(s, location));
    r.retention = policy.describe();
    std::vector<engine::RetentionCandidate> candidates;
    for (const auto& m : r.catalog.backups) {
        auto pin = r.catalog.pins.find(m.id);
        candidates.push_back({m.id, m.source.system_identifier, m.stop_time,
                              pin != r.catalog.pins.end() && pin->second.holds_at(now)});
    }
    for (const auto& d : engine::apply_retention(candidates, now, policy))
        r.outside_retention += !d.keep;
    r.backup_interval = observed_interval(r.catalog.backups);
    repo::Repository repository = LB_TRY(repo::Repository::open(location));
    const auto names = LB_TRY(repo::list_wal_names(repository.storage()));
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
        if (it->find('.') != std::string::npos) continue;  // segments only
        auto meta = repo::read_wal_meta(repository.storage(), *it);
        if (!meta && meta.error().code == ErrorCode::corrupt) {
            r.catalog.damaged.push_back(repo::damaged_object(repo::wal_key(*it), meta.error()));
            continue;  // the RPO comes from the newest readable segment
        }
        r.newest_wal_pushed = LB_TRY(std::move(meta)).pushed;
        break;
    }
    return r;
}

std::string seconds_text(double s) {
    if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
    if (s >= 60) return fmt::format("{:.1f} min", s / 60);
    return fmt::format("{:.1f} s", s);
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

std::string html_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace

Status run_report_command(const Settings& s, const ReportArgs& args, OutputFormat format) {
    // --json is --format json; with another --format the two disagree, and neither may win
    // silently.
    if (format == OutputFormat::json && !args.format.empty() && args.format != "json") {
        return fail(ErrorCode::usage, "--json and --format {} disagree: give one of them",
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
    std::vector<RepositoryReport> reports;
    const Timestamp now = system_clock().now();
    for (const auto& [name, location] : targets) {
        use_keys_of(s, location);  // each repository with its own key
        reports.push_back(LB_TRY(gather(s, name, location, now)));
    }
    const std::string kind = format == OutputFormat::json ? "json"
                             : args.format.empty()        ? "markdown"
                                                          : args.format;
    if (kind == "json") {
        std::printf("%s\n", report_json(reports, now).dump(2).c_str());
    } else if (kind == "html") {
        std::printf(
            "<!doctype html><meta charset=utf-8><title>Lifeboat disaster-recovery report</title>"
            "<pre>%s</pre>\n",
            html_escape(markdown(reports, now)).c_str());
    } else {
        std::printf("%s", markdown(reports, now).c_str());
    }
    std::vector<repo::DamagedObject> damaged;
    for (const auto& r : reports)
        damaged.insert(damaged.end(), r.catalog.damaged.begin(), r.catalog.damaged.end());
    return damaged_objects_status(damaged);
}

}  // namespace lifeboat::cli
