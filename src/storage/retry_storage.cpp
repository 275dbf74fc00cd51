#include "storage/retry_storage.hpp"

#include <random>
#include <thread>

namespace lifeboat {

namespace {
class RetryUpload final : public ForwardingUpload {
  public:
    RetryUpload(const RetryStorage& storage, std::unique_ptr<Upload> inner)
        : ForwardingUpload(std::move(inner)), m_storage(storage) {}
    Status append(std::string_view data) override {
        return m_storage.retry([&] { return ForwardingUpload::append(data); });
    }
    Status commit() override {
        return m_storage.retry([&] { return ForwardingUpload::commit(); });
    }

  private:
    const RetryStorage& m_storage;
};
}  // namespace

RetryStorage::RetryStorage(std::unique_ptr<Storage> inner, RetryPolicy policy)
    : ForwardingStorage(std::move(inner)), m_policy(std::move(policy)) {
    if (!m_policy.sleep) {
        m_policy.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    }
}

void RetryStorage::pause(unsigned attempt) const {
    // Full jitter: a random delay up to base * 2^(attempt-1), capped.
    const auto cap =
        std::min(m_policy.max_delay, m_policy.base_delay * (1u << std::min(attempt - 1, 16u)));
    thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<long> pick(0, static_cast<long>(cap.count()));
    m_policy.sleep(std::chrono::milliseconds(pick(rng)));
}

Result<std::string> RetryStorage::read(const std::string& key) const {
    return retry([&] { return ForwardingStorage::read(key); });
}

Result<std::string> RetryStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    return retry([&] { return ForwardingStorage::read_range(key, offset, length); });
}

Result<ObjectInfo> RetryStorage::stat(const std::string& key) const {
    return retry([&] { return ForwardingStorage::stat(key); });
}

Result<std::vector<ObjectInfo>> RetryStorage::list(const std::string& prefix) const {
    return retry([&] { return ForwardingStorage::list(prefix); });
}

Status RetryStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    return retry([&] { return ForwardingStorage::write(key, data, overwrite); });
}

Result<std::unique_ptr<Upload>> RetryStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    auto inner = LB_TRY(retry([&] { return ForwardingStorage::start_upload(key, overwrite); }));
    return std::unique_ptr<Upload>(new RetryUpload(*this, std::move(inner)));
}

Status RetryStorage::remove_if_exists(const std::string& key) {
    return retry([&] { return ForwardingStorage::remove_if_exists(key); });
}

}  // namespace lifeboat
