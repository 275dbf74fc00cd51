// Loopback networking helpers.
#pragma once

#include <string>
#include <vector>

#include "util/error.hpp"

namespace lifeboat {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
Result<int> free_local_port();

// ErrorCode::conflict when something already listens on TCP `port` (any address: binding the
// wildcard address fails then), or on a PostgreSQL unix socket for `port` in one of
// `socket_directories` (a connect() that succeeds). Free a moment ago, like free_local_port.
Status check_port_free(int port, const std::vector<std::string>& socket_directories);

}  // namespace lifeboat
