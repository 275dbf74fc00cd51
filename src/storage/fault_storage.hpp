// FaultStorage: a wrapper that makes chosen calls of the storage it wraps fail, for tests of how
// everything above storage copes (retries, clean failure, nothing partial visible). A failed call
// has no effect on the wrapped storage: the fault is raised before the call is passed on. Every
// data call (and every append and commit of its uploads) counts; location(), features() and
// local_files() pass through without counting.
#pragma once

#include <atomic>
#include <memory>

#include "storage/forwarding_storage.hpp"

namespace lifeboat {

struct FaultPlan {
    ErrorCode code = ErrorCode::unavailable;  // what the injected failures look like
    unsigned every = 0;                       // fail every Nth call (0: never)
    unsigned first = 0;                       // additionally fail the first N calls
    std::uint64_t nth = 0;                    // additionally fail exactly call N (1-based)
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
    // Decides whether the current call fails; also used by this wrapper's uploads.
    Status maybe_fail(const char* operation, const std::string& key) const;

  private:
    FaultPlan m_plan;
    mutable std::atomic<std::uint64_t> m_calls{0};
    mutable std::atomic<std::uint64_t> m_injected{0};
};

}  // namespace lifeboat
