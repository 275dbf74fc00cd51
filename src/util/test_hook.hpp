// A test-only hook that lets crash and concurrency tests stop an operation at a named stage.
// LIFEBOAT_TEST_STAGE_HOOK="<stage>:kill" (SIGKILL, as a power loss would),
// "<stage>:pause=<seconds>" or "<stage>:fail" (the stage reports an I/O error). Unset in
// production, where every call is a no-op. docs/configuration.md lists the stages.
#pragma once

#include <string_view>

#include "util/error.hpp"

namespace lifeboat {

// Kills or pauses the process when the hook names `stage`; fails with ErrorCode::io when the
// hook says "<stage>:fail"; otherwise does nothing.
Status test_stage_reached(std::string_view stage);

}  // namespace lifeboat
