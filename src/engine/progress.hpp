// The progress types live in util/progress.hpp (drivers report progress too); the engine keeps
// its historical names.
#pragma once

#include "util/progress.hpp"

namespace lifeboat::engine {

using lifeboat::KeepGoingFn;
using lifeboat::may_go_on;
using lifeboat::PeriodicProgress;
using lifeboat::Progress;
using lifeboat::ProgressFn;
using lifeboat::ProgressUnit;
using lifeboat::report_waiting;

}  // namespace lifeboat::engine
