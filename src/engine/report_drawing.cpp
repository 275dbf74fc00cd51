#include "engine/report_drawing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "engine/report_html.hpp"

namespace lifeboat::engine {

namespace {

constexpr double k_width = 1000;
constexpr double k_label_width = 130;  // lane names, left of the plot
constexpr double k_right_margin = 36;
constexpr double k_top = 26;  // room for the "now" label
constexpr double k_lane_height = 46;
constexpr double k_axis_height = 34;

// Maps times onto the plot's x range.
class TimeScale {
  public:
    TimeScale(std::int64_t lo, std::int64_t hi) : m_lo(lo), m_hi(hi) {}
    double x(Timestamp t) const {
        const double f = static_cast<double>(t.micros - m_lo) / static_cast<double>(m_hi - m_lo);
        return k_label_width + f * (k_width - k_label_width - k_right_margin);
    }
    std::int64_t lo() const { return m_lo; }
    std::int64_t hi() const { return m_hi; }

  private:
    std::int64_t m_lo, m_hi;  // micros
};

// Where a drill is drawn: the time it restored to (for 'latest', the newest commit it found,
// else when it ran). Nothing for a damaged record, whose times are unknown (read_drills leaves
// them at the epoch): drawn there, it would squash every other marker into a corner.
std::optional<Timestamp> drill_time(const DrillRecord& d) {
    if (d.target) return *d.target;
    if (d.newest_commit) return *d.newest_commit;
    if (d.started == Timestamp{}) return std::nullopt;
    return d.started;
}

std::string when(Timestamp t) {
    return format_iso8601(t);
}

std::string when(const std::optional<Timestamp>& t, std::string_view none) {
    return t ? format_iso8601(*t) : std::string(none);
}

TimeScale scale_for(const RepositoryReport& r, Timestamp now,
                    const std::vector<const DrillRecord*>& drills) {
    std::vector<std::int64_t> times{now.micros};
    for (const auto& m : r.catalog.backups) {
        times.push_back(m.start_time.micros);
        times.push_back(m.stop_time.micros);
    }
    for (const auto& t : r.catalog.window.timelines) {
        for (const auto& value : {t.earliest, t.latest, t.branch_time})
            if (value) times.push_back(value->micros);
        for (const auto& reach : t.reaches)
            if (reach.to) times.push_back(reach.to->micros);
    }
    for (const DrillRecord* d : drills)
        if (auto at = drill_time(*d)) times.push_back(at->micros);
    std::int64_t lo = *std::min_element(times.begin(), times.end());
    std::int64_t hi = *std::max_element(times.begin(), times.end());
    constexpr std::int64_t k_min_span = 10'000'000;  // 10 s: a fresh repository is still legible
    if (hi - lo < k_min_span) {
        const std::int64_t grow = (k_min_span - (hi - lo)) / 2;
        lo -= grow;
        hi += grow;
    }
    const std::int64_t pad = (hi - lo) / 25;
    return {lo - pad, hi + pad};
}

// Axis ticks at round UTC times, at most about seven of them.
std::string axis_svg(const TimeScale& scale, double lanes_top, double lanes_bottom) {
    constexpr std::array<std::int64_t, 24> steps = {
        1,     2,     5,      10,     15,      30,      60,      120,
        300,   600,   900,    1800,   3600,    7200,    10800,   21600,
        43200, 86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000};
    const std::int64_t span_s = (scale.hi() - scale.lo()) / 1'000'000;
    std::int64_t step = steps.back();
    for (std::int64_t s : steps) {
        if (span_s / s <= 7) {
            step = s;
            break;
        }
    }
    const std::string first_day = when(Timestamp{scale.lo()}).substr(0, 10);
    const bool one_day = when(Timestamp{scale.hi()}).substr(0, 10) == first_day;
    std::string svg = fmt::format(
        "<g class=\"axis\"><line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" "
        "stroke=\"#94a3b8\"/>",
        k_label_width, lanes_bottom, k_width - k_right_margin);
    const std::int64_t step_us = step * 1'000'000;
    std::int64_t tick = (scale.lo() / step_us + (scale.lo() % step_us > 0 ? 1 : 0)) * step_us;
    for (; tick <= scale.hi(); tick += step_us) {
        const std::string iso = when(Timestamp{tick});  // 2026-11-29T17:55:03Z
        std::string label;
        if (step >= 86400) {
            label = iso.substr(0, 10);
        } else if (!one_day) {
            label = iso.substr(5, 5) + " " + iso.substr(11, 5);
        } else {
            label = step >= 60 ? iso.substr(11, 5) : iso.substr(11, 8);
        }
        const double x = scale.x(Timestamp{tick});
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e2e8f0\"/>"
            "<line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{0:.1f}\" y2=\"{3:.1f}\" stroke=\"#94a3b8\"/>"
            "<text x=\"{0:.1f}\" y=\"{4:.1f}\" text-anchor=\"middle\" font-size=\"11.5\" "
            "fill=\"#475569\">{5}</text>",
            x, lanes_top, lanes_bottom, lanes_bottom + 5, lanes_bottom + 19, html_escape(label));
    }
    return svg + "</g>";
}

std::string rect(double x1, double x2, double y, double height, std::string_view css_class,
                 std::string_view fill, const std::string& title) {
    const double width = std::max(x2 - x1, 2.0);
    return fmt::format(
        "<rect class=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"3\" "
        "fill=\"{}\"><title>{}</title></rect>",
        css_class, x1, y, width, height, fill, html_escape(title));
}

std::string lane_svg(const RepositoryReport& r, const TimelineWindow& t, double cy,
                     const TimeScale& scale) {
    std::string svg = fmt::format("<g class=\"lane\" data-timeline=\"{}\">", t.timeline);
    svg += fmt::format(
        "<text x=\"8\" y=\"{:.1f}\" font-size=\"13\" font-weight=\"600\" fill=\"#1f2933\">"
        "timeline {}</text>",
        cy + (t.parent ? -2 : 4.5), t.timeline);
    if (t.parent) {
        svg += fmt::format(
            "<text x=\"8\" y=\"{:.1f}\" font-size=\"11\" fill=\"#64748b\">from timeline {}</text>",
            cy + 12, *t.parent);
    }
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#cbd5e1\" "
        "stroke-dasharray=\"3 3\"/>",
        k_label_width, cy, k_width - k_right_margin);
    for (const auto& reach : t.reaches) {
        if (!reach.consistent || !reach.to) continue;
        svg += rect(scale.x(reach.from), scale.x(*reach.to), cy - 6, 12, "reach", "#bfd3f6",
                    fmt::format("backup {} followed along timeline {}: {} .. {}", reach.backup_id,
                                t.timeline, when(reach.from), when(*reach.to)));
    }
    if (t.earliest && t.latest) {
        svg += rect(scale.x(*t.earliest), scale.x(*t.latest), cy - 6, 12, "window", "#2563eb",
                    fmt::format("restorable window of timeline {}: {} .. {}", t.timeline,
                                when(*t.earliest), when(*t.latest)));
    }
    if (!t.problem.empty()) {
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11.5\" fill=\"#b91c1c\">not followed: "
            "{}</text>",
            k_label_width + 6, cy - 10, html_escape(t.problem.substr(0, 120)));
    }
    for (std::size_t i = 0; i < r.catalog.backups.size(); ++i) {
        const auto& m = r.catalog.backups[i];
        if (m.timeline != t.timeline) continue;
        const bool consistent =
            i < r.catalog.window.backups.size() && r.catalog.window.backups[i].consistent;
        auto pin = r.catalog.pins.find(m.id);
        const bool pinned = pin != r.catalog.pins.end();
        const std::string title =
            fmt::format("backup {} (timeline {}): {} .. {}{}{}", m.id, m.timeline,
                        when(m.start_time), when(m.stop_time),
                        consistent ? ""
                                   : "; not restorable: WAL to its consistent point "
                                     "is missing",
                        pinned ? "; pinned" : "");
        svg += fmt::format(
            "<rect class=\"backup-marker{}{}\" data-backup-id=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" "
            "width=\"6\" height=\"24\" rx=\"1.5\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\">"
            "<title>{}</title></rect>",
            consistent ? "" : " wal-missing", pinned ? " pinned" : "", html_escape(m.id),
            scale.x(m.stop_time) - 3, cy - 12, consistent ? "#0f2742" : "#9ca3af",
            pinned ? "#7c3aed" : "#ffffff", pinned ? 2 : 1, html_escape(title));
    }
    return svg + "</g>";
}

std::string branch_svg(const TimelineWindow& t, double parent_y, double child_y,
                       const TimeScale& scale) {
    const double x = scale.x(*t.branch_time);
    const std::string title =
        fmt::format("timeline {} branched off timeline {} at {}; the histories part after {}",
                    t.timeline, *t.parent, t.branch_lsn.value_or("?"), when(*t.branch_time));
    return fmt::format(
        "<g class=\"branch-point\"><path class=\"branch\" d=\"M {0:.1f} {1:.1f} C {2:.1f} {1:.1f} "
        "{0:.1f} {3:.1f} {2:.1f} {3:.1f}\" fill=\"none\" stroke=\"#7c3aed\" stroke-width=\"2\">"
        "<title>{4}</title></path><circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"4\" fill=\"#7c3aed\">"
        "<title>{4}</title></circle></g>",
        x, parent_y, x + 10, child_y, html_escape(title));
}

std::string drill_lane_svg(const std::vector<const DrillRecord*>& drills, double cy,
                           const TimeScale& scale) {
    std::string svg = fmt::format(
        "<g class=\"lane drills\"><text x=\"8\" y=\"{0:.1f}\" font-size=\"13\" "
        "font-weight=\"600\" fill=\"#1f2933\">drills</text><line x1=\"{1:.1f}\" y1=\"{2:.1f}\" "
        "x2=\"{3:.1f}\" y2=\"{2:.1f}\" stroke=\"#cbd5e1\" stroke-dasharray=\"3 3\"/>",
        cy + 4.5, k_label_width, cy, k_width - k_right_margin);
    // Oldest first, so that the newest drill is drawn on top.
    std::vector<const DrillRecord*> ordered = drills;
    std::sort(ordered.begin(), ordered.end(),
              [](const DrillRecord* a, const DrillRecord* b) { return a->started < b->started; });
    // Drills at (nearly) the same time are stacked rather than hidden behind each other.
    constexpr std::array<double, 3> k_offsets = {0, -11, 11};
    std::vector<std::pair<double, std::size_t>> drawn;  // x, offset used
    for (const DrillRecord* d : ordered) {
        const auto at = drill_time(*d);
        if (!at) continue;  // named in the drills table
        const double x = scale.x(*at);
        std::size_t level = 0;
        for (std::size_t candidate = 0; candidate < k_offsets.size(); ++candidate) {
            const bool taken = std::any_of(drawn.begin(), drawn.end(), [&](const auto& other) {
                return other.second == candidate && std::abs(other.first - x) < 12;
            });
            level = candidate;
            if (!taken) break;
        }
        drawn.emplace_back(x, level);
        const double y = cy + k_offsets[level];
        std::string title =
            fmt::format("drill {}: {}; target {}; backup {}; RTO {:.1f} s", d->id,
                        d->passed ? "PASSED" : "FAILED", when(d->target, "latest"),
                        d->backup_id.empty() ? "-" : d->backup_id, d->total_seconds);
        if (!d->passed && !d->error.empty()) title += "; " + d->error;
        svg += fmt::format(
            "<path class=\"drill-marker {}\" data-drill-id=\"{}\" d=\"M {:.1f} {:.1f} l 8 8 l -8 8 "
            "l -8 -8 z\" fill=\"{}\" stroke=\"#ffffff\" "
            "stroke-width=\"1\"><title>{}</title></path>",
            d->passed ? "passed" : "failed", html_escape(d->id), x, y - 8,
            d->passed ? "#16a34a" : "#dc2626", html_escape(title));
    }
    return svg + "</g>";
}

std::string legend_html(bool branches, bool drills) {
    std::string h =
        "<div class=\"legend\"><span><i style=\"background:#2563eb\"></i>restorable window</span>"
        "<span><i style=\"background:#bfd3f6\"></i>reach of one backup</span>"
        "<span><i style=\"background:#0f2742;width:5px;height:14px\"></i>backup</span>"
        "<span><i style=\"background:#9ca3af;width:5px;height:14px\"></i>backup without its "
        "WAL</span>";
    if (branches) {
        h += "<span><i style=\"background:#7c3aed;border-radius:7px;width:9px;height:9px\"></i>"
             "branch point</span>";
    }
    if (drills) {
        h += "<span><i style=\"background:#16a34a;transform:rotate(45deg);width:9px;height:9px\">"
             "</i>drill passed</span><span><i style=\"background:#dc2626;transform:rotate(45deg);"
             "width:9px;height:9px\"></i>drill failed</span>";
    }
    return h + "<span><i style=\"background:#f59e0b;width:2px;height:14px\"></i>now</span></div>";
}

}  // namespace

std::string timeline_drawing_html(const RepositoryReport& r, Timestamp now,
                                  const std::vector<const DrillRecord*>& drills) {
    const auto& timelines = r.catalog.window.timelines;
    if (timelines.empty() && drills.empty()) {
        return "<p class=\"empty\">Nothing to draw: no backup and no drill yet.</p>\n";
    }
    const TimeScale scale = scale_for(r, now, drills);
    const std::size_t lanes = timelines.size() + (drills.empty() ? 0 : 1);
    const double lanes_bottom = k_top + static_cast<double>(lanes) * k_lane_height;
    const double height = lanes_bottom + k_axis_height;
    std::map<std::uint32_t, double> lane_y;
    for (std::size_t i = 0; i < timelines.size(); ++i)
        lane_y[timelines[i].timeline] = k_top + (static_cast<double>(i) + 0.5) * k_lane_height;

    std::string svg = fmt::format(
        "<svg class=\"timeline-drawing\" xmlns=\"http://www.w3.org/2000/svg\" "
        "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" aria-label=\"Restorable window per "
        "timeline, backups and drills of repository {}\">",
        k_width, height, html_escape(r.name.empty() ? r.location : r.name));
    for (std::size_t i = 0; i < lanes; i += 2) {  // zebra lanes
        svg += fmt::format(
            "<rect x=\"0\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.1f}\" fill=\"#f8fafc\"/>",
            k_top + static_cast<double>(i) * k_lane_height, k_width, k_lane_height);
    }
    svg += axis_svg(scale, k_top, lanes_bottom);
    bool branches = false;
    for (const auto& t : timelines) {
        if (!t.parent || !t.branch_time || !lane_y.contains(*t.parent)) continue;
        svg += branch_svg(t, lane_y[*t.parent], lane_y[t.timeline], scale);
        branches = true;
    }
    for (const auto& t : timelines)
        svg += lane_svg(r, t, lane_y[t.timeline], scale);
    if (!drills.empty()) svg += drill_lane_svg(drills, lanes_bottom - k_lane_height / 2, scale);
    const double now_x = scale.x(now);
    svg += fmt::format(
        "<g class=\"now\"><line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
        "stroke=\"#f59e0b\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><text x=\"{0:.1f}\" "
        "y=\"{3:.1f}\" text-anchor=\"middle\" font-size=\"11.5\" fill=\"#b45309\">now</text>"
        "<title>report generated {4}</title></g>",
        now_x, k_top - 4, lanes_bottom, k_top - 9, when(now));
    svg += "</svg>";
    return fmt::format(
        "<figure class=\"timeline\">{}<figcaption>{}Times in UTC, {} .. {}. Hover a marker for "
        "its details.</figcaption></figure>\n",
        svg, legend_html(branches, !drills.empty()), when(Timestamp{scale.lo()}),
        when(Timestamp{scale.hi()}));
}

}  // namespace lifeboat::engine
