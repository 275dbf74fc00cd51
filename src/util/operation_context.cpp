#include "util/operation_context.hpp"

namespace lifeboat {

void CancellationToken::cancel(std::string reason) {
    {
        std::lock_guard lock(m_mutex);
        if (m_cancelled.load(std::memory_order_relaxed)) return;
        m_reason = std::move(reason);
        m_cancelled.store(true, std::memory_order_release);
    }
    m_wake.notify_all();
}

Status CancellationToken::check() const {
    if (!cancelled()) return {};
    std::lock_guard lock(m_mutex);
    return fail(ErrorCode::interrupted, "interrupted: {}", m_reason);
}

Status CancellationToken::sleep_for(std::chrono::steady_clock::duration duration) const {
    {
        std::unique_lock lock(m_mutex);
        m_wake.wait_for(lock, duration,
                        [this] { return m_cancelled.load(std::memory_order_acquire); });
    }
    return check();
}

Status OperationContext::stage(std::string_view name) const {
    if (stage_hook) LB_CHECK(stage_hook(name));
    return check();
}

}  // namespace lifeboat
