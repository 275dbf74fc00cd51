// FaultStorage: a wrapper that makes chosen calls of the storage it wraps fail, for tests of how
// everything above storage copes (retries, clean failure, nothing partial visible). Every data
// call (and every append and commit of its uploads) counts; location(), features() and
// local_files() pass through without counting. FaultPlan::kind says what a chosen call suffers,
// worded as a real backend reports it:
// - error: a permanent storage failure (ErrorCode::repository), raised before the call.
// - timeout, connection_reset, throttled (HTTP 503 SlowDown): transient (ErrorCode::unavailable),
//   raised before the call, so the call had no effect and retrying it is safe.
// - short_read: a read or ranged read is performed but its body arrives short; the backend
//   notices (its length differs from Content-Length) and reports ErrorCode::unavailable, never
//   the short bytes. Other calls suffer it as connection_reset.
// - no_space: ENOSPC, permanent (ErrorCode::repository), raised before a writing call (write,
//   start_upload, append, commit); reads and removals pass, and the plan's numbers (first, nth,
//   every) count writing calls only.
// - as_code: the failure is FaultPlan::code, raised before the call (what earlier tests use).
#pragma once

#include <atomic>
#include <memory>

#include "storage/forwarding_storage.hpp"

namespace lifeboat {

enum class FaultKind { as_code, error, timeout, connection_reset, throttled, short_read, no_space };

// Whether retrying a call that suffered this kind of fault may succeed.
bool fault_is_transient(FaultKind kind);
std::string_view fault_kind_name(FaultKind kind);

struct FaultPlan {
    ErrorCode code = ErrorCode::unavailable;  // what the injected failures look like (as_code)
    FaultKind kind = FaultKind::as_code;
    unsigned every = 0;     // fail every Nth call (0: never)
    unsigned first = 0;     // additionally fail the first N calls
    std::uint64_t nth = 0;  // additionally fail exactly call N (1-based)
};

class FaultStorage final : public ForwardingStorage {
  public:
    FaultStorage(std::unique_ptr<Storage> inner, FaultPlan plan)
        : ForwardingStorage(std::move(inner)), m_plan(plan) {}

    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;
    Status remove_if_exists(const std::string& key) override;

    std::uint64_t injected() const { return m_injected; }
    // Calls counted so far (failed or not): after a clean run, the N to try with FaultPlan::nth.
    std::uint64_t calls() const { return m_calls; }
    // Writing calls (write, start_upload, append, commit) counted so far: FaultKind::no_space's N.
    std::uint64_t write_calls() const { return m_write_calls; }
    // Which calls a fault may hit.
    enum class CallKind { read, write, other };
    // Decides whether the current call fails; also used by this wrapper's uploads.
    Status maybe_fail(const char* operation, const std::string& key,
                      CallKind call_kind = CallKind::other) const;

  private:
    FaultPlan m_plan;
    mutable std::atomic<std::uint64_t> m_calls{0};
    mutable std::atomic<std::uint64_t> m_write_calls{0};
    mutable std::atomic<std::uint64_t> m_injected{0};
};

}  // namespace lifeboat
