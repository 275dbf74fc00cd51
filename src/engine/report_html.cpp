#include "engine/report_html.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "engine/report_drawing.hpp"
#include "util/markup.hpp"

namespace lifeboat::engine {

namespace {

std::string bytes_text(std::uint64_t bytes) {
    constexpr std::array<const char*, 5> units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

std::string seconds_text(double s) {
    if (s >= 86400) return fmt::format("{:.1f} d", s / 86400);
    if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
    if (s >= 60) return fmt::format("{:.1f} min", s / 60);
    return fmt::format("{:.1f} s", s);
}

double seconds_between(Timestamp from, Timestamp to) {
    return static_cast<double>(to.micros - from.micros) / 1e6;
}

// A time for a person (to the second, UTC) with the exact value in the markup.
std::string time_html(Timestamp t) {
    const std::string exact = format_iso8601(t);
    std::string shown = exact.substr(0, 19);
    shown[10] = ' ';
    return fmt::format("<time datetime=\"{0}\" title=\"{0}\">{1}</time>", html_escape(exact),
                       html_escape(shown));
}

std::string time_html(const std::optional<Timestamp>& t, std::string_view none = "-") {
    return t ? time_html(*t) : html_escape(none);
}

std::string badge(std::string_view kind, std::string_view text) {
    return fmt::format("<span class=\"badge {}\">{}</span>", kind, html_escape(text));
}

// What in a repository needs a person's attention, most serious first.
std::vector<std::string> attention_items(const RepositoryReport& r) {
    std::vector<std::string> items;
    const auto& c = r.catalog;
    if (!c.damaged.empty()) {
        items.push_back(fmt::format(
            "{} damaged object(s), left out of everything below: <code>lifeboat repair</code> "
            "moves them aside",
            c.damaged.size()));
    }
    if (c.backups.empty()) {
        items.push_back("no backup yet: nothing can be restored");
    } else if (!c.window.earliest || !c.window.latest) {
        items.push_back(
            "no restorable window yet: the WAL after the newest backup is not archived (run "
            "<code>lifeboat check</code>, or set <code>archive_timeout</code>)");
    }
    if (c.window.gap) {
        items.push_back(
            fmt::format("WAL segment <code>{}</code> is missing: WAL after it cannot be replayed",
                        html_escape(c.window.first_missing_segment)));
    }
    if (r.drills.empty()) {
        items.push_back(
            "no restore drill recorded: <code>lifeboat drill</code> proves a restore works and "
            "measures its RTO");
    } else if (!r.drills.back().passed) {
        items.push_back(fmt::format("the newest drill, <code>{}</code>, failed",
                                    html_escape(r.drills.back().id)));
    }
    return items;
}

// A repository given by its location (not a configured name) is called by its location, once.
bool named(const RepositoryReport& r) {
    return !r.name.empty() && r.name != r.location;
}

std::string repository_title(const RepositoryReport& r) {
    return named(r) ? r.name : r.location;
}

std::string anchor(std::size_t index) {
    return fmt::format("repository-{}", index + 1);
}

// Why a drill failed, one item per reason (at most a few: the record has the rest).
std::vector<std::string> failure_reasons(const DrillRecord& d) {
    std::vector<std::string> reasons;
    if (d.passed) return reasons;
    if (!d.error.empty()) reasons.push_back(d.error);
    std::size_t failed = 0;
    for (const auto& check : d.checks) {
        if (check.passed || check.skipped) continue;
        if (++failed > 4) continue;
        std::string text = check.database.empty() ? "" : check.database + ": ";
        text += check.name.empty() ? check.kind : check.name;
        if (!check.detail.empty()) text += " — " + check.detail;
        reasons.push_back(text);
    }
    if (failed > 4) reasons.push_back(fmt::format("and {} more failed check(s)", failed - 4));
    if (reasons.empty()) reasons.push_back("failed (no reason recorded)");
    return reasons;
}

std::vector<const DrillRecord*> drills_shown(const RepositoryReport& r) {
    std::vector<const DrillRecord*> shown;
    for (auto it = r.drills.rbegin(); it != r.drills.rend() && shown.size() < k_report_drills_shown;
         ++it)
        shown.push_back(&*it);
    return shown;  // newest first
}

std::string overview_table(const Report& report) {
    std::string h =
        "<table class=\"repositories\"><thead><tr><th>Repository</th><th>Location</th>"
        "<th class=\"num\">Backups</th><th>Restorable window</th><th class=\"num\">RPO</th>"
        "<th class=\"num\">Newest backup</th><th>Drills</th><th class=\"num\">Stored</th>"
        "<th>Status</th></tr></thead><tbody>";
    for (std::size_t i = 0; i < report.repositories.size(); ++i) {
        const auto& r = report.repositories[i];
        const auto& c = r.catalog;
        std::size_t passed = 0;
        for (const auto& d : r.drills)
            passed += d.passed;
        const std::string drills =
            r.drills.empty() ? std::string("none")
                             : fmt::format("{} of {} passed; newest {}", passed, r.drills.size(),
                                           r.drills.back().passed ? badge("passed", "passed")
                                                                  : badge("failed", "failed"));
        const std::size_t problems = attention_items(r).size();
        h += fmt::format(
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"location\">{}</td>"
            "<td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
            "<td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            anchor(i), html_escape(repository_title(r)),
            named(r) ? html_escape(r.location) : std::string("-"), c.backups.size(),
            c.window.earliest && c.window.latest
                ? time_html(*c.window.earliest) + " – " + time_html(*c.window.latest)
                : std::string("empty"),
            r.newest_wal_pushed
                ? seconds_text(seconds_between(*r.newest_wal_pushed, report.generated))
                : std::string("no WAL"),
            c.backups.empty()
                ? std::string("-")
                : seconds_text(seconds_between(c.backups.back().stop_time, report.generated)) +
                      " ago",
            drills, bytes_text(c.stored_bytes),
            problems == 0 ? badge("passed", "ok")
                          : badge("failed", fmt::format("{} to look at", problems)));
    }
    return h + "</tbody></table>\n";
}

std::string facts_table(const RepositoryReport& r, Timestamp now) {
    const auto& c = r.catalog;
    std::string h = "<table class=\"facts\"><tbody>";
    auto row = [&](std::string_view item, const std::string& value_html) {
        h += fmt::format("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", item, value_html);
    };
    row("Backups",
        c.backups.empty()
            ? std::string("none")
            : fmt::format("{} (newest <code>{}</code>, {} ago)", c.backups.size(),
                          html_escape(c.backups.back().id),
                          seconds_text(seconds_between(c.backups.back().stop_time, now))));
    row("Backup schedule (observed)",
        r.backup_interval
            ? "every " + seconds_text(*r.backup_interval) + " (median gap between the last backups)"
            : std::string("fewer than two backups"));
    row("Retention in force",
        fmt::format("{}; {} backup(s) outside it (<code>lifeboat expire --dry-run</code> lists "
                    "them)",
                    html_escape(r.retention), r.outside_retention));
    row("Restorable window",
        c.window.earliest && c.window.latest
            ? time_html(*c.window.earliest) + " – " + time_html(*c.window.latest) +
                  (c.window.timelines.size() > 1 ? " (newest backup's timeline; every timeline "
                                                   "below)"
                                                 : "")
            : std::string("empty"));
    row("Measured RPO (age of the newest archived WAL)",
        r.newest_wal_pushed ? seconds_text(seconds_between(*r.newest_wal_pushed, now))
                            : std::string("no WAL archived"));
    row("Archived WAL",
        fmt::format(
            "{} file(s){}", c.window.wal_files,
            c.window.gap
                ? "; GAP at <code>" + html_escape(c.window.first_missing_segment) + "</code>"
            : c.window.last_segment.empty() ? std::string()
                                            : "; newest usable segment <code>" +
                                                  html_escape(c.window.last_segment) + "</code>"));
    row("Stored",
        c.logical_bytes == 0
            ? bytes_text(c.stored_bytes)
            : fmt::format("{} for {} of backed-up data ({:.1f}x less)", bytes_text(c.stored_bytes),
                          bytes_text(c.logical_bytes), c.savings_ratio()));
    return h + "</tbody></table>\n";
}

std::string timelines_table(const RepositoryReport& r) {
    const auto& w = r.catalog.window;
    std::string h =
        "<table class=\"timelines\"><thead><tr><th class=\"num\">Timeline</th>"
        "<th>Branched off</th><th>Histories part after</th><th>Restorable from</th>"
        "<th>Restorable to</th><th>Backups followed along it</th><th>Note</th></tr></thead>"
        "<tbody>";
    for (const auto& t : w.timelines) {
        std::string backups;
        for (const auto& reach : t.reaches) {
            if (!reach.consistent) continue;
            backups += (backups.empty() ? "" : " ") +
                       ("<code>" + html_escape(reach.backup_id) + "</code>");
        }
        h += fmt::format(
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            t.timeline,
            t.parent ? fmt::format("timeline {} at <code>{}</code>", *t.parent,
                                   html_escape(t.branch_lsn.value_or("?")))
                     : std::string("-"),
            t.parent ? time_html(t.branch_time, "unknown (WAL around the switch not archived)")
                     : std::string("-"),
            time_html(t.earliest), time_html(t.latest), backups.empty() ? "-" : backups,
            t.problem.empty() ? std::string("-") : "not followed: " + html_escape(t.problem));
    }
    return h + "</tbody></table>\n";
}

std::string backups_table(const RepositoryReport& r, Timestamp now) {
    const auto& c = r.catalog;
    std::map<std::string, Timestamp> proven;  // newest passing drill per backup
    for (const auto& d : r.drills)
        if (d.passed) proven[d.backup_id] = d.started;
    std::string h =
        "<table class=\"backups\"><thead><tr><th>Backup</th><th class=\"num\">TL</th>"
        "<th>Finished</th><th class=\"num\">Took</th><th class=\"num\">Data</th>"
        "<th class=\"num\">Added</th><th class=\"num\">Files</th><th>Restorable</th>"
        "<th>Reaches to</th><th>Tags</th><th>Last proven</th></tr></thead><tbody>";
    for (std::size_t i = c.backups.size(); i-- > 0;) {
        const auto& m = c.backups[i];
        const BackupReach* reach = i < c.window.backups.size() ? &c.window.backups[i] : nullptr;
        const bool isolated = std::find(c.window.isolated.begin(), c.window.isolated.end(), m.id) !=
                              c.window.isolated.end();
        std::string restorable;
        if (!reach || !reach->consistent) {
            restorable = badge("failed", "no") + " WAL to its consistent point missing";
        } else if (isolated) {
            restorable = badge("warn", "on its own") +
                         " kept without the WAL after it: " + "<code>--backup " +
                         html_escape(m.id) + " --to consistent</code>";
        } else {
            restorable = badge("passed", "yes");
        }
        std::string tags;
        auto pin = c.pins.find(m.id);
        if (pin != c.pins.end() && pin->second.holds_at(now)) {
            tags += pin->second.until
                        ? badge("pin", "pinned until " + format_iso8601(*pin->second.until))
                        : badge("pin", "pinned");
        }
        for (const auto& [k, v] : m.tags)
            tags += "<span class=\"tag\">" + html_escape(k + "=" + v) + "</span>";
        auto at = proven.find(m.id);
        h += fmt::format(
            "<tr id=\"backup-{}\"><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td>"
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
            "<td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(m.id), html_escape(m.id), m.timeline, time_html(m.stop_time),
            seconds_text(seconds_between(m.start_time, m.stop_time)),
            bytes_text(m.stats.data_bytes), bytes_text(m.stats.stored_bytes), m.stats.files,
            restorable,
            reach && reach->consistent ? time_html(reach->to, "no WAL after it yet") : "-",
            tags.empty() ? "-" : tags,
            at == proven.end() ? std::string("never") : time_html(at->second));
    }
    return h + "</tbody></table>\n";
}

std::string drills_table(const RepositoryReport& r) {
    const auto shown = drills_shown(r);
    if (shown.empty()) {
        return "<p class=\"empty\">No drill recorded yet. <code>lifeboat drill</code> restores "
               "into a scratch instance, validates it and records the RTO here.</p>\n";
    }
    std::string h =
        "<table class=\"drills\"><thead><tr><th>Started</th><th>Result</th><th>Target</th>"
        "<th>Backup</th><th class=\"num\">RTO</th><th class=\"num\">Files / replay / ready</th>"
        "<th>Validated</th><th>Failure reason</th></tr></thead><tbody>";
    for (const DrillRecord* d : shown) {
        std::string validated;
        for (const auto& db : d->databases) {
            validated += fmt::format("<div>{} <code>{}</code></div>",
                                     db.passed ? badge("passed", "ok") : badge("failed", "failed"),
                                     html_escape(db.name));
        }
        if (validated.empty()) {
            std::size_t passed = 0;
            for (const auto& check : d->checks)
                passed += check.passed;
            validated = d->checks.empty()
                            ? "-"
                            : fmt::format("{} of {} checks passed", passed, d->checks.size());
        }
        std::string reasons;
        for (const auto& reason : failure_reasons(*d))
            reasons += "<li>" + html_escape(reason) + "</li>";
        h += fmt::format(
            "<tr class=\"{}\" title=\"drill {}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            d->passed ? "passed" : "failed", html_escape(d->id),
            d->started == Timestamp{} ? std::string("unknown") : time_html(d->started),
            d->passed ? badge("passed", "passed") : badge("failed", "failed"),
            time_html(d->target, d->started == Timestamp{} ? "unknown" : "latest"),
            d->backup_id.empty() ? std::string("-")
                                 : "<code>" + html_escape(d->backup_id) + "</code>",
            d->total_seconds > 0 ? seconds_text(d->total_seconds) : std::string("-"),
            d->total_seconds > 0 ? fmt::format("{:.1f} / {:.1f} / {:.1f} s", d->files_seconds,
                                               d->replay_seconds, d->ready_seconds)
                                 : std::string("-"),
            validated, reasons.empty() ? "-" : "<ul class=\"reasons\">" + reasons + "</ul>");
    }
    h += "</tbody></table>\n";
    if (r.drills.size() > shown.size()) {
        h += fmt::format(
            "<p class=\"note\">{} older drill(s) not shown: <code>lifeboat drills</code> lists "
            "every one.</p>\n",
            r.drills.size() - shown.size());
    }
    return h;
}

std::string damaged_table(const RepositoryReport& r) {
    std::string h =
        "<table class=\"damaged\"><thead><tr><th>Object</th><th>Why</th></tr></thead><tbody>";
    for (const auto& d : r.catalog.damaged) {
        h += fmt::format("<tr><td><code>{}</code></td><td>{}</td></tr>", html_escape(d.key),
                         html_escape(d.reason));
    }
    return h + "</tbody></table>\n";
}

std::string restore_steps(const RepositoryReport& r) {
    const std::string repo = html_escape("'" + r.location + "'");
    return fmt::format(
        "<pre class=\"steps\"><code>lifeboat list --repo {0}\n"
        "lifeboat restore --repo {0} --to &lt;TIME|latest&gt; --target-dir &lt;NEW_DIR&gt; "
        "--port &lt;PORT&gt; --start\n"
        "lifeboat validate --pg \"host=&lt;SOCKET_DIR&gt; port=&lt;PORT&gt; dbname=&lt;DB&gt;\" "
        "--checks &lt;CHECKS.toml&gt;</code></pre>\n",
        repo);
}

std::string repository_section(const RepositoryReport& r, std::size_t index, Timestamp now) {
    std::string h = fmt::format(
        "<section class=\"repository\" id=\"{}\">\n<h2>Repository <span class=\"name\">{}</span>"
        "</h2>\n",
        anchor(index), html_escape(repository_title(r)));
    if (named(r)) h += fmt::format("<p class=\"location\">{}</p>\n", html_escape(r.location));
    const auto attention = attention_items(r);
    if (!attention.empty()) {
        h += "<div class=\"attention\"><strong>To look at</strong><ul>";
        for (const auto& item : attention)
            h += "<li>" + item + "</li>";  // items are markup already, their data escaped
        h += "</ul></div>\n";
    }
    h += facts_table(r, now);
    h += "<h3>Restorable window</h3>\n";
    h += timeline_drawing_html(r, now, drills_shown(r));
    if (!r.catalog.window.timelines.empty()) h += timelines_table(r);
    h += "<h3>Backups</h3>\n";
    h += r.catalog.backups.empty() ? "<p class=\"empty\">No backup yet.</p>\n"
                                   : backups_table(r, now);
    h += "<h3>Drills</h3>\n";
    h += drills_table(r);
    if (!r.catalog.damaged.empty()) {
        h += "<h3>Damaged objects</h3>\n" + damaged_table(r);
    }
    h += "<h3>Steps to restore from this repository</h3>\n" + restore_steps(r);
    return h + "</section>\n";
}

constexpr std::string_view k_style = R"css(
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --soft: #f4f6f9; --accent: #1d4ed8;
  --ok: #15803d; --ok-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --warn: #92400e;
  --warn-bg: #fef3c7; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
header.page { background: #0f2742; color: #fff; padding: 20px 32px; }
header.page h1 { margin: 0; font-size: 22px; font-weight: 600; letter-spacing: .2px; }
header.page p { margin: 4px 0 0; color: #c8d3e0; }
main { padding: 8px 32px 32px; max-width: 1280px; }
h2 { font-size: 19px; margin: 28px 0 4px; font-weight: 600; }
h2 .name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
h3 { font-size: 15px; margin: 22px 0 8px; color: #334155; font-weight: 600; }
section.repository { border-top: 1px solid var(--line); margin-top: 24px; }
p.location { margin: 0 0 12px; color: var(--muted);
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
code { background: var(--soft); padding: 0 3px; border-radius: 3px; white-space: pre-wrap; }
pre.steps { background: #0f172a; color: #e2e8f0; padding: 12px 14px; border-radius: 6px;
  overflow-x: auto; }
pre.steps code { background: none; padding: 0; white-space: pre; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
thead th { background: var(--soft); color: #334155; font-weight: 600; font-size: 12.5px;
  border-bottom: 1px solid #c3cad4; white-space: nowrap; }
tbody tr:hover { background: #f8fafc; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.location { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; overflow-wrap: anywhere; }
table.facts { width: auto; min-width: 60%; }
table.facts th { font-weight: 500; color: var(--muted); width: 300px; }
time { white-space: nowrap; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  font-weight: 600; line-height: 18px; white-space: nowrap; }
.badge.passed { background: var(--ok-bg); color: var(--ok); }
.badge.failed { background: var(--bad-bg); color: var(--bad); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.pin { background: #e0e7ff; color: #3730a3; margin-right: 4px; }
.tag { display: inline-block; background: var(--soft); border: 1px solid var(--line);
  border-radius: 4px; padding: 0 5px; margin: 0 4px 2px 0; font-size: 12px;
  white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
tr.failed td:first-child { box-shadow: inset 3px 0 var(--bad); }
tr.passed td:first-child { box-shadow: inset 3px 0 var(--ok); }
ul.reasons { margin: 0; padding-left: 16px; color: var(--bad); }
div.attention { background: var(--warn-bg); border: 1px solid #f5d58a; border-radius: 6px;
  padding: 8px 14px; margin: 8px 0 12px; }
div.attention ul { margin: 4px 0 0; padding-left: 18px; }
p.empty, p.note { color: var(--muted); }
figure.timeline { margin: 0 0 8px; border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px 6px; }
figure.timeline svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 2px; }
.legend span { white-space: nowrap; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 5px;
  vertical-align: -1px; border-radius: 2px; }
footer { color: var(--muted); font-size: 12px; padding: 16px 32px 28px;
  border-top: 1px solid var(--line); }
@media print { header.page { background: none; color: var(--ink); }
  header.page p { color: var(--muted); } tbody tr:hover { background: none; } }
)css";

}  // namespace

std::string html_escape(std::string_view text) {
    return escape_markup(text);
}

std::string render_report_html(const Report& report) {
    std::string h = fmt::format(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"generator\" content=\"Lifeboat\">\n"
        "<title>Lifeboat disaster-recovery report</title>\n<style>{}</style>\n</head>\n<body>\n"
        "<header class=\"page\"><h1>Disaster-recovery report</h1>"
        "<p>Generated {} UTC by Lifeboat from the repositories themselves: backups, archived WAL "
        "and recorded drills.</p></header>\n<main>\n",
        k_style, time_html(report.generated));
    h += "<h2>Repositories</h2>\n" + overview_table(report);
    for (std::size_t i = 0; i < report.repositories.size(); ++i)
        h += repository_section(report.repositories[i], i, report.generated);
    h += "</main>\n<footer>Times are UTC. This page is self-contained: no scripts, fonts or "
         "images are loaded from anywhere. <code>lifeboat report --json</code> gives the same "
         "figures as data.</footer>\n</body>\n</html>\n";
    return h;
}

}  // namespace lifeboat::engine
