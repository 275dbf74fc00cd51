// RetryStorage: retries calls of the storage it wraps that fail with ErrorCode::unavailable (a
// transient failure that had no effect), with exponential backoff and jitter; any other error is
// returned at once. The sleeper is passed in so tests need not wait.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "storage/forwarding_storage.hpp"

namespace lifeboat {

struct RetryPolicy {
    unsigned attempts = 5;
    std::chrono::milliseconds base_delay{100};
    std::chrono::milliseconds max_delay{5000};
    std::function<void(std::chrono::milliseconds)> sleep;  // default: std::this_thread::sleep_for
};

class RetryStorage final : public ForwardingStorage {
  public:
    RetryStorage(std::unique_ptr<Storage> inner, RetryPolicy policy);

    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;
    Status remove_if_exists(const std::string& key) override;

    // Runs `call` until it succeeds, fails permanently, or the attempts are used up.
    template <typename Call>
    auto retry(Call&& call) const -> decltype(call()) {
        auto result = call();
        for (unsigned attempt = 1; attempt < m_policy.attempts && !result &&
                                   result.error().code == ErrorCode::unavailable;
             ++attempt) {
            pause(attempt);
            result = call();
        }
        return result;
    }

  private:
    void pause(unsigned attempt) const;
    RetryPolicy m_policy;
};

}  // namespace lifeboat
