// Terminal output helpers: sizes, durations, and a progress line on stderr that is shown only
// when stderr is a terminal (never in logs, pipes or CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "engine/progress.hpp"

namespace lifeboat::cli {

std::string human_bytes(std::uint64_t bytes);

// "S for L of backed-up data (Nx less)", without a ratio where there is nothing to compare.
std::string stored_summary(std::uint64_t stored_bytes, std::uint64_t logical_bytes);

class ProgressLine {
  public:
    ProgressLine();
    ~ProgressLine();
    // A callback for engine operations; empty when stderr is not a terminal.
    engine::ProgressFn callback();
    void clear();

  private:
    void show(const engine::Progress& p);
    bool m_enabled;
    std::mutex m_mutex;
    std::chrono::steady_clock::time_point m_last{};
    bool m_dirty = false;
};

// For an operation that may wait for another's repository lock: says once on stderr what it is
// waiting for ("lifeboat: waiting for expire (pid 12) to finish").
std::function<void(const std::string&)> tell_once_when_waiting();

}  // namespace lifeboat::cli
