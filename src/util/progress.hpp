// Progress reports from long operations. The engine calls the callback from any thread, at most
// a few times per second; the CLI decides whether and how to show it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "util/error.hpp"

namespace lifeboat {

enum class ProgressUnit { bytes, items };

struct Progress {
    std::string phase;        // "reading files", "writing files", "replaying WAL", ...
    std::uint64_t done = 0;   // bytes (or items) done
    std::uint64_t total = 0;  // 0 when unknown
    ProgressUnit unit = ProgressUnit::bytes;  // what done and total count
};

using ProgressFn = std::function<void(const Progress&)>;

// Asked by long operations at each block or stage whether they may go on (for example whether
// their repository lock is still held and fresh); a failure stops the operation with that error.
using KeepGoingFn = std::function<Status()>;
inline Status may_go_on(const KeepGoingFn& keep_going) {
    return keep_going ? keep_going() : Status{};
}

// For repository lock waits: reports "waiting for <holder>" as a progress phase.
inline std::function<void(const std::string&)> report_waiting(const ProgressFn& progress) {
    return [progress](const std::string& holder) {
        if (progress) progress({"waiting for " + holder, 0, 0});
    };
}

// While alive, reports `done` against `total` under `phase` every 500 ms on its own thread
// (nothing at all when `report` is empty). Stops promptly when destroyed.
class PeriodicProgress {
  public:
    PeriodicProgress(const ProgressFn& report, std::string phase,
                     const std::atomic<std::uint64_t>& done, std::uint64_t total)
        : m_report(report), m_phase(std::move(phase)), m_done(done), m_total(total) {
        if (m_report) m_thread = std::thread([this] { run(); });
    }
    PeriodicProgress(const PeriodicProgress&) = delete;
    PeriodicProgress& operator=(const PeriodicProgress&) = delete;
    ~PeriodicProgress() {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable()) m_thread.join();
    }

  private:
    void run() {
        std::unique_lock lock(m_mutex);
        while (!m_stop) {
            m_report({m_phase, m_done.load(), m_total});
            m_wake.wait_for(lock, std::chrono::milliseconds(500), [this] { return m_stop; });
        }
    }

    const ProgressFn& m_report;
    std::string m_phase;
    const std::atomic<std::uint64_t>& m_done;
    std::uint64_t m_total;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stop = false;
    std::thread m_thread;
};

}  // namespace lifeboat
