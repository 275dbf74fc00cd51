// The one place that knows which source drivers this program is built with (DESIGN: "wiring").
#pragma once

namespace lifeboat::cli {

// Registers every source driver with source/registry.hpp. Called once, first thing in main.
void register_source_drivers();

}  // namespace lifeboat::cli
