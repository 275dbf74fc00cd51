// Progress reports from long operations. The engine calls the callback from any thread, at most
// a few times per second; the CLI decides whether and how to show it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace lifeboat::engine {

struct Progress {
    std::string phase;        // "reading files", "writing files", "replaying WAL", ...
    std::uint64_t done = 0;   // bytes (or items) done
    std::uint64_t total = 0;  // 0 when unknown
};

using ProgressFn = std::function<void(const Progress&)>;

}  // namespace lifeboat::engine
