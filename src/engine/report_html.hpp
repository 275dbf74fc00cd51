// The disaster-recovery report as one self-contained HTML page: `report --format html`, and the
// page the agent's status endpoint can serve.
//
// Contract:
// - A pure function of the report data: no I/O, no clock (times are relative to
//   Report::generated), so the same data always gives the same page.
// - Self-contained: styles inline, the drawing is inline SVG; no script, font, image or any other
//   request leaves the page, and it reads the same without JavaScript.
// - Every text that comes from the repository or the user (names, locations, ids, tags, failure
//   reasons, check details) is HTML-escaped, in text and in attributes alike.
// - Stable hooks for tests and styling: table.repositories, table.timelines, table.backups,
//   table.drills (one tbody row per item); per repository an svg.timeline-drawing with one
//   g.lane per timeline (data-timeline), a path.branch per drawn branch point, one
//   .backup-marker per backup and one .drill-marker (.passed or .failed) per drill shown whose time
//   is known (not a damaged record's).
#pragma once

#include <string>
#include <string_view>

#include "engine/report.hpp"

namespace lifeboat::engine {

// At most this many drills (the newest) are listed and drawn per repository.
inline constexpr std::size_t k_report_drills_shown = 20;

std::string render_report_html(const Report& report);

// `text` safe in HTML text and in quoted attribute values: & < > " ' become references.
std::string html_escape(std::string_view text);

}  // namespace lifeboat::engine
