#include "util/test_hook.hpp"

#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

namespace lifeboat {

Status test_stage_reached(std::string_view stage) {
    // Read once: the environment does not change while a command runs.
    static const std::string hook = [] {
        const char* value = std::getenv("LIFEBOAT_TEST_STAGE_HOOK");
        return std::string(value ? value : "");
    }();
    const auto colon = hook.find(':');
    if (colon == std::string::npos || std::string_view(hook).substr(0, colon) != stage) return {};
    const std::string action = hook.substr(colon + 1);
    if (action == "kill") ::kill(::getpid(), SIGKILL);
    if (action.rfind("pause=", 0) == 0)
        std::this_thread::sleep_for(std::chrono::seconds(std::atoi(action.c_str() + 6)));
    if (action == "fail") {
        return fail(ErrorCode::io, "injected failure at stage '{}' (LIFEBOAT_TEST_STAGE_HOOK)",
                    stage);
    }
    return {};
}

}  // namespace lifeboat
