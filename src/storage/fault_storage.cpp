#include "storage/fault_storage.hpp"

namespace lifeboat {

namespace {
class FaultUpload final : public Upload {
  public:
    FaultUpload(const FaultStorage& storage, std::string key, std::unique_ptr<Upload> inner)
        : m_storage(storage), m_key(std::move(key)), m_inner(std::move(inner)) {}
    Status append(std::string_view data) override {
        LB_CHECK(m_storage.maybe_fail("append", m_key));
        return m_inner->append(data);
    }
    std::uint64_t size() const override { return m_inner->size(); }
    Status commit() override {
        LB_CHECK(m_storage.maybe_fail("commit", m_key));
        return m_inner->commit();
    }

  private:
    const FaultStorage& m_storage;
    std::string m_key;
    std::unique_ptr<Upload> m_inner;
};
}  // namespace

Status FaultStorage::maybe_fail(const char* operation, const std::string& key) const {
    const std::uint64_t call = ++m_calls;
    const bool fails = call <= m_plan.first || (m_plan.every != 0 && call % m_plan.every == 0);
    if (!fails) return {};
    ++m_injected;
    return fail(m_plan.code, "injected fault: {} {} (call {})", operation, key, call);
}

Result<std::string> FaultStorage::read(const std::string& key) const {
    LB_CHECK(maybe_fail("read", key));
    return m_inner->read(key);
}

Result<std::string> FaultStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    LB_CHECK(maybe_fail("read_range", key));
    return m_inner->read_range(key, offset, length);
}

Result<ObjectInfo> FaultStorage::stat(const std::string& key) const {
    LB_CHECK(maybe_fail("stat", key));
    return m_inner->stat(key);
}

Result<std::vector<ObjectInfo>> FaultStorage::list(const std::string& prefix) const {
    LB_CHECK(maybe_fail("list", prefix));
    return m_inner->list(prefix);
}

Status FaultStorage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    LB_CHECK(maybe_fail("write", key));
    return m_inner->write(key, data, overwrite);
}

Result<std::unique_ptr<Upload>> FaultStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    LB_CHECK(maybe_fail("start_upload", key));
    auto inner = LB_TRY(m_inner->start_upload(key, overwrite));
    return std::unique_ptr<Upload>(new FaultUpload(*this, key, std::move(inner)));
}

Status FaultStorage::remove_if_exists(const std::string& key) {
    LB_CHECK(maybe_fail("remove", key));
    return m_inner->remove_if_exists(key);
}

}  // namespace lifeboat
