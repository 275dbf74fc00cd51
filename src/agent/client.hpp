// The other side of the agent's HTTP API, for `lifeboat status`.
#pragma once

#include <string>

#include "agent/config.hpp"
#include "util/error.hpp"

namespace lifeboat::agent {

// GET /api/status from the agent `settings` describe (listen address, token). ErrorCode::
// unavailable when nothing answers; ErrorCode::config when the token is refused.
Result<std::string> fetch_status(const AgentSettings& settings);

// Sends one "test" notification to every configured target now (retries included); ErrorCode::
// unavailable naming the targets that did not take it, ErrorCode::config when none is set.
Status send_test_notification(const AlertSettings& settings, const std::string& source,
                              Timestamp now);

}  // namespace lifeboat::agent
