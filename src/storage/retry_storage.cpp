#include "storage/retry_storage.hpp"

#include <random>
#include <thread>

namespace lifeboat {

namespace {
class RetryUpload final : public Upload {
  public:
    RetryUpload(const RetryStorage& storage, std::unique_ptr<Upload> inner)
        : m_storage(storage), m_inner(std::move(inner)) {}
    Status append(std::string_view data) override {
        return m_storage.retry([&] { return m_inner->append(data); });
    }
    std::uint64_t size() const override { return m_inner->size(); }
    Status commit() override {
        return m_storage.retry([&] { return m_inner->commit(); });
    }

  private:
    const RetryStorage& m_storage;
    std::unique_ptr<Upload> m_inner;
};
}  // namespace

RetryStorage::RetryStorage(std::unique_ptr<Storage> inner, RetryPolicy policy)
    : m_inner(std::move(inner)), m_policy(std::move(policy)) {
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
    return retry([&] { return m_inner->read(key); });
}

Result<std::string> RetryStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    return retry([&] { return m_inner->read_range(key, offset, length); });
}

Result<ObjectInfo> RetryStorage::stat(const std::string& key) const {
    return retry([&] { return m_inner->stat(key); });
}

Result<std::vector<ObjectInfo>> RetryStorage::list(const std::string& prefix) const {
    return retry([&] { return m_inner->list(prefix); });
}

Status RetryStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    return retry([&] { return m_inner->write(key, data, overwrite); });
}

Result<std::unique_ptr<Upload>> RetryStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    auto inner = LB_TRY(retry([&] { return m_inner->start_upload(key, overwrite); }));
    return std::unique_ptr<Upload>(new RetryUpload(*this, std::move(inner)));
}

Status RetryStorage::remove_if_exists(const std::string& key) {
    return retry([&] { return m_inner->remove_if_exists(key); });
}

}  // namespace lifeboat
