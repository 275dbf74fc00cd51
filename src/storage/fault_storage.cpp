#include "storage/fault_storage.hpp"

namespace lifeboat {

namespace {
class FaultUpload final : public ForwardingUpload {
  public:
    FaultUpload(const FaultStorage& storage, std::string key, std::unique_ptr<Upload> inner)
        : ForwardingUpload(std::move(inner)), m_storage(storage), m_key(std::move(key)) {}
    Status append(std::string_view data) override {
        LB_CHECK(m_storage.maybe_fail("append", m_key, FaultStorage::CallKind::write));
        return ForwardingUpload::append(data);
    }
    Status commit() override {
        LB_CHECK(m_storage.maybe_fail("commit", m_key, FaultStorage::CallKind::write));
        return ForwardingUpload::commit();
    }

  private:
    const FaultStorage& m_storage;
    std::string m_key;
};

}  // namespace

bool fault_is_transient(FaultKind kind) {
    switch (kind) {
        case FaultKind::timeout:
        case FaultKind::connection_reset:
        case FaultKind::throttled:
        case FaultKind::short_read:
            return true;
        case FaultKind::as_code:
        case FaultKind::error:
        case FaultKind::no_space:
            return false;
    }
    return false;
}

std::string_view fault_kind_name(FaultKind kind) {
    switch (kind) {
        case FaultKind::as_code:
            return "as_code";
        case FaultKind::error:
            return "error";
        case FaultKind::timeout:
            return "timeout";
        case FaultKind::connection_reset:
            return "connection_reset";
        case FaultKind::throttled:
            return "throttled";
        case FaultKind::short_read:
            return "short_read";
        case FaultKind::no_space:
            return "no_space";
    }
    return "?";
}

Status FaultStorage::maybe_fail(const char* operation, const std::string& key,
                                CallKind call_kind) const {
    std::uint64_t call = ++m_calls;
    const std::uint64_t write_call = call_kind == CallKind::write ? ++m_write_calls : 0;
    // A full disk fails only what writes: its plan counts writing calls.
    if (m_plan.kind == FaultKind::no_space) {
        if (call_kind != CallKind::write) return {};
        call = write_call;
    }
    const bool fails = call <= m_plan.first || call == m_plan.nth ||
                       (m_plan.every != 0 && call % m_plan.every == 0);
    if (!fails) return {};
    ++m_injected;
    switch (m_plan.kind) {
        case FaultKind::as_code:
            return fail(m_plan.code, "injected fault: {} {} (call {})", operation, key, call);
        case FaultKind::error:
            return fail(ErrorCode::repository,
                        "injected fault: {} {}: Input/output error (call {})", operation, key,
                        call);
        case FaultKind::timeout:
            return fail(ErrorCode::unavailable,
                        "injected fault: {} {}: operation timed out (call {})", operation, key,
                        call);
        case FaultKind::short_read:
            if (call_kind == CallKind::read) {
                return fail(ErrorCode::unavailable,
                            "injected fault: {} {}: body shorter than its Content-Length (call {})",
                            operation, key, call);
            }
            [[fallthrough]];
        case FaultKind::connection_reset:
            return fail(ErrorCode::unavailable,
                        "injected fault: {} {}: connection reset by peer (call {})", operation, key,
                        call);
        case FaultKind::throttled:
            return fail(ErrorCode::unavailable,
                        "injected fault: {} {}: HTTP 503 SlowDown: Please reduce your request "
                        "rate (call {})",
                        operation, key, call);
        case FaultKind::no_space:
            return fail(ErrorCode::repository,
                        "injected fault: {} {}: No space left on device (call {})", operation, key,
                        call);
    }
    return {};
}

Result<std::string> FaultStorage::read(const std::string& key) const {
    if (m_plan.kind != FaultKind::short_read) {
        LB_CHECK(maybe_fail("read", key, CallKind::read));
        return ForwardingStorage::read(key);
    }
    // The request reached the store and the body was sent; it is the arrival that falls short.
    auto result = ForwardingStorage::read(key);
    LB_CHECK(maybe_fail("read", key, CallKind::read));
    return result;
}

Result<std::string> FaultStorage::read_range(const std::string& key, std::uint64_t offset,
                                             std::size_t length) const {
    if (m_plan.kind != FaultKind::short_read) {
        LB_CHECK(maybe_fail("read_range", key, CallKind::read));
        return ForwardingStorage::read_range(key, offset, length);
    }
    auto result = ForwardingStorage::read_range(key, offset, length);
    LB_CHECK(maybe_fail("read_range", key, CallKind::read));
    return result;
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
    LB_CHECK(maybe_fail("write", key, CallKind::write));
    return ForwardingStorage::write(key, data, overwrite);
}

Result<std::unique_ptr<Upload>> FaultStorage::start_upload(const std::string& key,
                                                           Overwrite overwrite) {
    LB_CHECK(maybe_fail("start_upload", key, CallKind::write));
    auto inner = LB_TRY(ForwardingStorage::start_upload(key, overwrite));
    return std::unique_ptr<Upload>(new FaultUpload(*this, key, std::move(inner)));
}

Status FaultStorage::remove_if_exists(const std::string& key) {
    LB_CHECK(maybe_fail("remove", key));
    return ForwardingStorage::remove_if_exists(key);
}

}  // namespace lifeboat
