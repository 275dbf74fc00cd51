// The agent's status page (GET /): one self-contained HTML document (inline CSS and SVG, no
// scripts, no external assets) drawn from a state snapshot. Works offline; readable on a phone.
#pragma once

#include <string>

#include "agent/config.hpp"
#include "agent/state.hpp"

namespace lifeboat::agent {

std::string status_page_html(const StateSnapshot& snapshot, const AlertSettings& thresholds);

}  // namespace lifeboat::agent
