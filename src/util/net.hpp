// Loopback networking helpers.
#pragma once

#include "util/error.hpp"

namespace lifeboat {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
Result<int> free_local_port();

}  // namespace lifeboat
