// The report's drawing of a repository's restorable window (used by report_html.cpp): one
// inline SVG on a shared UTC time axis, one lane per timeline (its restorable window, the reach of
// each backup along it, where it branched off its parent), each backup as a marker on its own
// timeline's lane, and a lane of drills, each at the time it restored to and coloured by outcome.
// Every marker carries a <title> (a tooltip without JavaScript).
#pragma once

#include <string>
#include <vector>

#include "engine/report.hpp"

namespace lifeboat::engine {

// A <figure> with the drawing and its legend, or a paragraph saying there is nothing to draw.
// `drills` are the drills to draw (any order); `now` is the report's time, drawn as a line.
std::string timeline_drawing_html(const RepositoryReport& report, Timestamp now,
                                  const std::vector<const DrillRecord*>& drills);

}  // namespace lifeboat::engine
