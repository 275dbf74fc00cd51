#include "agent/page.hpp"

#include <algorithm>

#include "agent/figures.hpp"
#include "util/markup.hpp"

namespace lifeboat::agent {

namespace {

std::string esc(std::string_view text) {
    return escape_markup(text);
}

std::string when(std::optional<Timestamp> t) {
    return t ? format_iso8601(*t) : "never";
}

std::string seconds_text(double s) {
    if (s < 120) return fmt::format("{:.0f} s", s);
    if (s < 7200) return fmt::format("{:.1f} min", s / 60);
    return fmt::format("{:.1f} h", s / 3600);
}

// The restorable window on a time axis: the window as a bar, each backup as a tick at its stop
// time, the last drill as a diamond, now as a line. Every mark has a <title> tooltip.
std::string timeline_svg(const SourceState& s, Timestamp now) {
    if (!s.catalog || s.catalog->backups.empty())
        return "<p class=\"muted\">No backup yet: nothing to draw.</p>";
    const auto& c = *s.catalog;
    std::int64_t lo = c.backups.front().start.micros;
    if (c.window_start) lo = std::min(lo, c.window_start->micros);
    if (c.last_drill) lo = std::min(lo, c.last_drill->started.micros);
    const std::int64_t hi = std::max(now.micros, lo + 1);
    constexpr double k_width = 600;
    auto x = [&](Timestamp t) {
        return 10 +
               (k_width - 20) * static_cast<double>(t.micros - lo) / static_cast<double>(hi - lo);
    };
    std::string out = fmt::format(
        "<svg class=\"timeline\" viewBox=\"0 0 {} 70\" role=\"img\" aria-label=\"restorable "
        "window\">",
        k_width);
    out +=
        fmt::format("<line x1=\"10\" y1=\"40\" x2=\"{}\" y2=\"40\" class=\"axis\"/>", k_width - 10);
    if (c.window_start && c.window_end) {
        const double a = x(*c.window_start);
        const double b = std::max(x(*c.window_end), a + 2);
        out += fmt::format(
            "<rect class=\"window\" x=\"{:.1f}\" y=\"30\" width=\"{:.1f}\" height=\"20\"><title>"
            "restorable {} .. {}</title></rect>",
            a, b - a, esc(format_iso8601(*c.window_start)), esc(format_iso8601(*c.window_end)));
        if (c.window_end->micros < now.micros) {
            out += fmt::format(
                "<rect class=\"gap\" x=\"{:.1f}\" y=\"30\" width=\"{:.1f}\" height=\"20\"><title>"
                "not restorable yet: {} .. now</title></rect>",
                b, std::max(0.0, x(now) - b), esc(format_iso8601(*c.window_end)));
        }
    }
    for (const auto& b : c.backups) {
        out += fmt::format(
            "<line class=\"backup\" x1=\"{0:.1f}\" y1=\"22\" x2=\"{0:.1f}\" y2=\"58\"><title>"
            "backup {1} ({2})</title></line>",
            x(b.stop), esc(b.id), esc(format_iso8601(b.stop)));
    }
    if (c.last_drill) {
        const double d = x(c.last_drill->started);
        out += fmt::format(
            "<path class=\"drill {}\" d=\"M{:.1f} 6 l6 6 l-6 6 l-6 -6 z\"><title>drill {} {} "
            "({})</title></path>",
            c.last_drill->passed ? "passed" : "failed", d, esc(c.last_drill->id),
            c.last_drill->passed ? "passed" : "failed", esc(format_iso8601(c.last_drill->started)));
    }
    out += fmt::format(
        "<line class=\"now\" x1=\"{0:.1f}\" y1=\"18\" x2=\"{0:.1f}\" y2=\"62\"><title>"
        "now {1}</title></line>",
        x(now), esc(format_iso8601(now)));
    out += fmt::format("<text x=\"10\" y=\"69\">{}</text>", esc(format_iso8601(Timestamp{lo})));
    out += fmt::format("<text x=\"{}\" y=\"69\" text-anchor=\"end\">now</text>", k_width - 10);
    out += "</svg>";
    return out;
}

}  // namespace

std::string status_page_html(const StateSnapshot& snap, const AlertSettings& t) {
    std::string out =
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Lifeboat agent</title><style>"
        "body{font-family:sans-serif;margin:0 auto;max-width:960px;padding:8px;color:#222}"
        "h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.5em}"
        "table{border-collapse:collapse;width:100%;font-size:.9em}"
        "td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;vertical-align:top}"
        ".table{overflow-x:auto}"
        ".verdict{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff}"
        ".ready{background:#2a7d2e}.at_risk{background:#b26a00}.not_ready{background:#b00020}"
        ".muted{color:#666}.firing{color:#b00020;font-weight:bold}.failed{color:#b00020}"
        "svg.timeline{width:100%;height:auto;max-height:120px}"
        "svg .axis{stroke:#999}svg .window{fill:#7fbf7f}svg .gap{fill:#f2b8b8}"
        "svg .backup{stroke:#1f4e99;stroke-width:2}svg .now{stroke:#000;stroke-dasharray:2}"
        "svg path.passed{fill:#2a7d2e}svg path.failed{fill:#b00020}svg text{font-size:9px}"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dd{margin:0}"
        "</style></head><body>";
    out += fmt::format("<h1>Lifeboat agent</h1><p class=\"muted\">now {} &middot; up since {}</p>",
                       esc(format_iso8601(snap.now)), esc(format_iso8601(snap.started)));
    if (!snap.reload_error.empty()) {
        out += fmt::format("<p class=\"firing\">configuration reload refused: {}</p>",
                           esc(snap.reload_error));
    }
    for (const auto& s : snap.sources) {
        const auto ready = readiness(s, t, snap.now);
        out += fmt::format(
            "<section class=\"source\" id=\"source-{0}\"><h2>{0} "
            "<span class=\"verdict {1}\">{2}</span></h2>",
            esc(s.spec.name), ready.verdict,
            ready.verdict == "ready"     ? "ready"
            : ready.verdict == "at_risk" ? "at risk"
                                         : "not ready");
        if (!ready.reasons.empty()) {
            out += "<ul class=\"reasons\">";
            for (const auto& r : ready.reasons)
                out += "<li>" + esc(r) + "</li>";
            out += "</ul>";
        }
        out += timeline_svg(s, snap.now);
        out += "<dl>";
        auto row = [&](std::string_view k, const std::string& v) {
            out += fmt::format("<dt>{}</dt><dd>{}</dd>", esc(k), v);
        };
        const auto& c = s.catalog;
        row("restorable window", c && c->window_start && c->window_end
                                     ? fmt::format("<span class=\"window-range\">{} .. {}</span>",
                                                   esc(format_iso8601(*c->window_start)),
                                                   esc(format_iso8601(*c->window_end)))
                                     : "none");
        row("RPO now",
            esc(seconds_text(rpo_seconds(s, snap.now))) +
                (s.probe ? fmt::format(" ({} bytes not archived)", s.probe->lag_bytes) : ""));
        const auto& drill = c ? c->last_drill : std::nullopt;
        const auto& good = c ? c->last_good_drill : std::nullopt;
        const auto estimate = estimated_rto_seconds(s);
        row("estimated RTO", estimate ? esc(seconds_text(*estimate)) +
                                            " (the WAL since the newest backup at the last "
                                            "drill's replay speed)"
                                      : "unknown until the agent has run a drill");
        row("last measured RTO",
            good ? esc(seconds_text(good->rto_seconds)) + " (the last passing drill)"
                 : "no drill has passed");
        if (snap.rto_target) row("RTO target", esc(seconds_text(snap.rto_target->count())));
        row("last drill", drill ? fmt::format("<span class=\"last-drill {}\">{} {}</span>",
                                              drill->passed ? "passed" : "failed",
                                              esc(format_iso8601(drill->started)),
                                              drill->passed ? "passed" : "FAILED")
                                : "never");
        if (s.stream) {
            // The log stream (capture, or wal-stream) and its slot's safety.
            const bool slot = s.probe && s.probe->stream;
            std::string text = s.capture_up ? "running" : "<span class=\"failed\">down</span>";
            if (s.capture_stored_at)
                text += ", last stored " + esc(format_iso8601(*s.capture_stored_at));
            if (slot) {
                text += fmt::format(", slot {} retains {} bytes",
                                    s.probe->slot_active ? "active" : "<b>inactive</b>",
                                    s.probe->slot_retained_bytes);
                if (!s.probe->slot_wal_status.empty())
                    text += ", wal_status " + esc(s.probe->slot_wal_status);
                if (s.probe->slot_keep_limit_bytes)
                    text += fmt::format(" (max_slot_wal_keep_size {} bytes, {} safe)",
                                        *s.probe->slot_keep_limit_bytes,
                                        s.probe->slot_safe_bytes.value_or(0));
            }
            row(s.spec.wal_stream ? "wal-stream" : "capture",
                "<span class=\"stream\">" + text + "</span>");
        }
        row("backups", c ? fmt::format("{}", c->backups.size()) : "unknown");
        row("next backup", esc(when(s.next_backup)));
        if (s.spec.policy && s.spec.policy->backup_window)
            row("backup window", esc(s.spec.policy->backup_window->text() + " UTC"));
        if (const auto n = s.skipped.find(JobKind::backup); n != s.skipped.end())
            row("backups skipped", fmt::format("{} (outside the backup window)", n->second));
        if (!s.catalog_error.empty()) row("repository error", esc(s.catalog_error));
        if (!s.probe_error.empty()) row("source error", esc(s.probe_error));
        out += "</dl>";

        out +=
            "<h3>Repositories</h3><div class=\"table\"><table><tr><th>repository</th>"
            "<th>role</th><th>stored</th><th>copy status</th></tr>";
        out += fmt::format("<tr><td>{}</td><td>primary</td><td>{}</td><td></td></tr>",
                           esc(s.spec.repository_name),
                           c ? fmt::format("{} bytes", c->stored_bytes) : "unknown");
        for (const auto& to : s.spec.copy_to) {
            const auto copied = s.last_success.find(JobKind::copy);
            out += fmt::format(
                "<tr><td>{}</td><td>copy</td><td></td><td>last copied {}</td></tr>", esc(to),
                esc(copied == s.last_success.end() ? std::string("never")
                                                   : format_iso8601(copied->second)));
        }
        out += "</table></div>";

        out +=
            "<h3>Backups</h3><div class=\"table\"><table class=\"backups\"><tr><th>id</th>"
            "<th>stop</th><th>duration</th><th>stored bytes</th></tr>";
        if (c) {
            const std::size_t first = c->backups.size() > 20 ? c->backups.size() - 20 : 0;
            for (std::size_t i = c->backups.size(); i-- > first;) {
                const auto& b = c->backups[i];
                out += fmt::format(
                    "<tr class=\"backup\"><td>{}</td><td>{}</td><td>{}</td>"
                    "<td>{}</td></tr>",
                    esc(b.id), esc(format_iso8601(b.stop)), esc(seconds_text(b.duration_seconds)),
                    b.stored_bytes);
            }
        }
        out += "</table></div></section>";
    }

    out +=
        "<h2>Alerts</h2><div class=\"table\"><table class=\"alerts\"><tr><th>alert</th>"
        "<th>source</th><th>state</th><th>value</th><th>threshold</th><th>message</th></tr>";
    for (const auto& a : snap.alerts) {
        out += fmt::format(
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "</tr>",
            esc(a.name), esc(a.source), a.firing ? "firing" : "ok",
            a.firing ? "firing since " + esc(when(a.since)) : "ok", esc(a.value), esc(a.threshold),
            esc(a.message));
    }
    out += "</table></div>";

    out +=
        "<h2>Last jobs</h2><div class=\"table\"><table class=\"jobs\"><tr><th>started</th>"
        "<th>source</th><th>job</th><th>why</th><th>duration</th><th>outcome</th></tr>";
    const std::size_t first = snap.history.size() > 30 ? snap.history.size() - 30 : 0;
    for (std::size_t i = snap.history.size(); i-- > first;) {
        const auto& r = snap.history[i];
        out += fmt::format(
            "<tr class=\"job\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td class=\"{}\">{}</td></tr>",
            esc(format_iso8601(r.started)), esc(r.source), job_kind_name(r.kind), esc(r.trigger),
            esc(seconds_text(r.duration_seconds())), r.ok ? "ok" : "failed",
            esc((r.ok ? "ok: " : "failed: ") + r.message));
    }
    out +=
        "</table></div><p class=\"muted\">JSON: <a href=\"api/status\">api/status</a> "
        "&middot; metrics: <a href=\"metrics\">metrics</a></p></body></html>\n";
    return out;
}

}  // namespace lifeboat::agent
