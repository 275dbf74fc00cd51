#include "repository/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/crypto.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

using nlohmann::json;

namespace {

constexpr const char* k_exclusive_key = "locks/exclusive";
constexpr std::int64_t k_foreign_lock_micros = 24LL * 3600 * 1000000;

std::string this_host() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
    return name;
}

std::string lock_body(const std::string& kind, const std::string& purpose) {
    return json{{"kind", kind},
                {"purpose", purpose},
                {"host", this_host()},
                {"pid", static_cast<long>(::getpid())},
                {"started", format_iso8601(system_clock().now())}}
        .dump();
}

Result<LockHolder> read_lock(const Storage& storage, const std::string& key) {
    const std::string text = LB_TRY(storage.read(key));
    LockHolder holder;
    holder.key = key;
    try {
        const json j = json::parse(text);
        holder.kind = j.value("kind", "");
        holder.purpose = j.value("purpose", "");
        holder.host = j.value("host", "");
        holder.pid = j.value("pid", 0L);
        holder.started = LB_TRY(parse_iso8601(j.value("started", "")));
    } catch (const json::exception& e) {
        // A lock that cannot be read was never completely written: treat it as stale.
        holder.kind = "damaged";
    }
    return holder;
}

// nullopt: no such lock (or it was stale and is now removed).
Result<std::optional<LockHolder>> live_lock(Storage& storage, const std::string& key) {
    auto holder = read_lock(storage, key);
    if (!holder) {
        if (holder.error().code == ErrorCode::not_found) return std::nullopt;
        if (holder.error().code == ErrorCode::corrupt) {  // unparsable start time
            LB_CHECK(storage.remove_if_exists(key));
            return std::nullopt;
        }
        return std::unexpected(holder.error());
    }
    if (lock_is_stale(*holder, system_clock().now())) {
        LB_CHECK(storage.remove_if_exists(key));
        return std::nullopt;
    }
    return *holder;
}

Result<std::vector<LockHolder>> live_shared_locks(Storage& storage) {
    std::vector<LockHolder> live;
    for (const auto& object : LB_TRY(storage.list("locks"))) {
        if (object.key.rfind("locks/shared-", 0) != 0) continue;
        auto holder = LB_TRY(live_lock(storage, object.key));
        if (holder) live.push_back(std::move(*holder));
    }
    return live;
}

}  // namespace

std::string LockHolder::describe() const {
    return fmt::format("{} (pid {} on {}, since {})", purpose.empty() ? kind : purpose, pid, host,
                       format_iso8601(started));
}

bool lock_is_stale(const LockHolder& holder, Timestamp now) {
    if (holder.kind == "damaged") return true;
    if (holder.host == this_host()) {
        return holder.pid <= 0 || (::kill(static_cast<pid_t>(holder.pid), 0) != 0 && errno == ESRCH);
    }
    return now.micros - holder.started.micros > k_foreign_lock_micros;
}

Result<std::vector<LockHolder>> read_locks(const Storage& storage) {
    std::vector<LockHolder> out;
    for (const auto& object : LB_TRY(storage.list("locks"))) {
        auto holder = read_lock(storage, object.key);
        if (holder) out.push_back(std::move(*holder));
    }
    return out;
}

Result<RepositoryLock> RepositoryLock::exclusive(Storage& storage, const std::string& purpose,
                                                 std::chrono::seconds wait,
                                                 const LockWaitFn& on_wait) {
    const std::string body = lock_body("exclusive", purpose);
    for (int attempt = 0;; ++attempt) {
        auto written = storage.write(k_exclusive_key, body, Overwrite::never);
        if (written) break;
        if (written.error().code != ErrorCode::conflict || attempt > 2)
            return std::unexpected(written.error().context("taking the repository lock"));
        auto holder = LB_TRY(live_lock(storage, k_exclusive_key));
        if (holder) {
            return fail(ErrorCode::conflict,
                        "the repository is locked by {}; try again when it has finished (if that "
                        "process is gone for good, remove {}/{})",
                        holder->describe(), storage.location(), k_exclusive_key);
        }
    }
    RepositoryLock lock(storage, k_exclusive_key);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        const auto shared = LB_TRY(live_shared_locks(storage));
        if (shared.empty()) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            return fail(ErrorCode::unavailable, "{} still holds the repository after {} s",
                        shared.front().describe(), wait.count());
        }
        if (on_wait) on_wait(shared.front().describe());
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return lock;
}

Result<RepositoryLock> RepositoryLock::shared(Storage& storage, const std::string& purpose,
                                              std::chrono::seconds wait,
                                              const LockWaitFn& on_wait) {
    const std::string body = lock_body("shared", purpose);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        const std::string key = "locks/shared-" + to_hex(LB_TRY(random_bytes(8)));
        LB_CHECK(storage.write(key, body, Overwrite::never));
        RepositoryLock lock(storage, key);
        auto holder = live_lock(storage, k_exclusive_key);
        if (!holder) return std::unexpected(holder.error());
        if (!*holder) return lock;
        LB_CHECK(lock.release());
        if (std::chrono::steady_clock::now() >= deadline) {
            return fail(ErrorCode::unavailable, "the repository is locked by {} (waited {} s)",
                        (*holder)->describe(), wait.count());
        }
        if (on_wait) on_wait((*holder)->describe());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

Result<std::optional<RepositoryLock>> RepositoryLock::shared_for_reading(
    Storage& storage, const std::string& purpose, std::chrono::seconds wait,
    const LockWaitFn& on_wait) {
    auto lock = shared(storage, purpose, wait, on_wait);
    if (lock) return std::optional<RepositoryLock>(std::move(*lock));
    const ErrorCode code = lock.error().code;
    if (code == ErrorCode::unavailable || code == ErrorCode::conflict)
        return std::unexpected(lock.error());
    return std::optional<RepositoryLock>();  // cannot write here: read without a lock
}

RepositoryLock::RepositoryLock(RepositoryLock&& other) noexcept
    : m_storage(other.m_storage), m_key(std::exchange(other.m_key, {})) {}

RepositoryLock::~RepositoryLock() { (void)release(); }

Status RepositoryLock::release() {
    if (m_key.empty()) return {};
    const std::string key = std::exchange(m_key, {});
    return m_storage->remove_if_exists(key);
}

}  // namespace lifeboat::repo
