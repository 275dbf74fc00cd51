// OperationContext: what every long operation (engine or source driver) is given besides its
// inputs: the clock, a cancellation token, the progress sink, a logger and the test stage hook.
// The same operation then runs in a one-shot command (the CLI cancels on SIGINT/SIGTERM) and in
// a long-running agent, and tests inject time, cancellation and stage hooks without the
// environment.
//
// Contract for operations: call `check()` (or `stage()`) at each block or step and `sleep_for()`
// instead of sleeping, so a cancellation stops the work within one block or wait; on
// cancellation an operation returns ErrorCode::interrupted after releasing its locks and leaving
// nothing partial visible (what it wrote is unpublished, as after a crash).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/progress.hpp"
#include "util/time.hpp"

namespace lifeboat {

// Shared between whoever may cancel (a signal handler's thread, the agent) and the operation.
// Thread safe. cancel() is idempotent; the first reason wins.
class CancellationToken {
  public:
    void cancel(std::string reason);
    bool cancelled() const { return m_cancelled.load(std::memory_order_acquire); }
    // ErrorCode::interrupted ("interrupted: <reason>") once cancelled.
    Status check() const;
    // Waits `duration` or until cancelled, whichever is first; then check().
    Status sleep_for(std::chrono::steady_clock::duration duration) const;

  private:
    std::atomic<bool> m_cancelled{false};
    mutable std::mutex m_mutex;
    mutable std::condition_variable m_wake;
    std::string m_reason;
};

enum class LogLevel { debug, info, warning };
using LogFn = std::function<void(LogLevel, std::string_view)>;

// Called at each named stage of an operation (docs/configuration.md lists the stages). Tests
// kill, pause or fail there; a failure stops the operation with that error.
using StageHookFn = std::function<Status(std::string_view stage)>;

struct OperationContext {
    const Clock* clock = &system_clock();
    std::shared_ptr<CancellationToken> cancellation = std::make_shared<CancellationToken>();
    ProgressFn progress;  // may be empty
    LogFn log;            // may be empty
    StageHookFn stage_hook;

    Timestamp now() const { return clock->now(); }
    Status check() const { return cancellation->check(); }
    Status sleep_for(std::chrono::steady_clock::duration d) const {
        return cancellation->sleep_for(d);
    }
    // The stage hook (if any), then check().
    Status stage(std::string_view name) const;
    void report(const Progress& p) const {
        if (progress) progress(p);
    }
    void warn(std::string_view message) const {
        if (log) log(LogLevel::warning, message);
    }
};

}  // namespace lifeboat
