#include "storage/fault_storage.hpp"

namespace lifeboat {

namespace {
class FaultUpload final : public ForwardingUpload {
  public:
    FaultUpload(const FaultStorage& storage, std::string key, std::unique_ptr<Upload> inner)
        : ForwardingUpload(std::move(inner)), m_storage(storage), m_key(std::move(key)) {}
    Status append(std::string_view data) override {
        LB_CHECK(m_storage.maybe_fail("append", m_key));
        return ForwardingUpload::append(data);
    }
    Status commit() override {
        LB_CHECK(m_storage.maybe_fail("commit", m_key));
        return ForwardingUpload::commit();
    }

  private:
    const FaultStorage& m_storage;
    std::string m_key;
};
}  // namespace

Status FaultStorage::maybe_fail(const char* operation, const std::string& key) const {
    const std::uint64_t call = ++m_calls;
    const bool fails = call <= m_plan.first || call == m_plan.nth ||
                       (m_plan.every != 0 && call % m_plan.every == 0);
    if (!fails) return {};
    ++m_injected;
    return fail(m_plan.code, "injected fault: {} {} (call {})", operation, key, call);
}

Result<std::string> FaultStorage::read(const std::string& key) const {
    LB_CHECK(maybe_fail("read", key));
    return ForwardingStorage::read(key);
}

Result<std::string> FaultStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    LB_CHECK(maybe_fail("read_range", key));
    return ForwardingStorage::read_range(key, offset, length);
}

Result<ObjectInfo> FaultStorage::stat(const std::string& key) const {
    LB_CHECK(maybe_fail("stat", key));
    return ForwardingStorage::stat(key);
}

Result<std::vector<ObjectInfo>> FaultStorage::list(const std::string& prefix) const {
    LB_CHECK(maybe_fail("list", prefix));
    return ForwardingStorage::list(prefix);
}

Status FaultStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    LB_CHECK(maybe_fail("write", key));
    return ForwardingStorage::write(key, data, overwrite);
}

Result<std::unique_ptr<Upload>> FaultStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    LB_CHECK(maybe_fail("start_upload", key));
    auto inner = LB_TRY(ForwardingStorage::start_upload(key, overwrite));
    return std::unique_ptr<Upload>(new FaultUpload(*this, key, std::move(inner)));
}

Status FaultStorage::remove_if_exists(const std::string& key) {
    LB_CHECK(maybe_fail("remove", key));
    return ForwardingStorage::remove_if_exists(key);
}

}  // namespace lifeboat
