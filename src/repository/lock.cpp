#include "repository/lock.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "codec/crypto.hpp"
#include "repository/json_reader.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

using nlohmann::json;

namespace {

constexpr const char* k_exclusive_key = "locks/exclusive";
constexpr std::int64_t k_unrefreshed_stale_micros = 3600LL * 1000000;  // an hour

std::string this_host() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
    return name;
}

std::string this_boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

std::string this_pid_namespace() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/ns/pid", ec).string();
}

Result<LockHolder> read_lock(const Storage& storage, const std::string& key) {
    const std::string text = LB_TRY(storage.read(key));
    auto holder = parse_lock(text, key);
    if (holder) return holder;
    // A lock that cannot be read was never completely written: treat it as stale.
    LockHolder damaged;
    damaged.key = key;
    damaged.kind = "damaged";
    return damaged;
}

// Removes `holder`'s lock if it is still that very lock (re-read just before).
Status remove_stale(Storage& storage, const LockHolder& holder) {
    auto again = read_lock(storage, holder.key);
    if (!again)
        return again.error().code == ErrorCode::not_found ? Status{}
                                                          : Status(std::unexpected(again.error()));
    if (again->token != holder.token || again->kind != holder.kind) return {};
    return storage.remove_if_exists(holder.key);
}

// nullopt: no such lock (or it was stale and is now removed).
const Clock& clock_of(const LockTiming& timing) {
    return timing.clock ? *timing.clock : system_clock();
}

Result<std::optional<LockHolder>> live_lock(Storage& storage, const std::string& key,
                                            const Clock& clock) {
    auto holder = read_lock(storage, key);
    if (!holder) {
        if (holder.error().code == ErrorCode::not_found) return std::nullopt;
        return std::unexpected(holder.error());
    }
    if (lock_is_stale(*holder, clock.now())) {
        LB_CHECK(remove_stale(storage, *holder));
        return std::nullopt;
    }
    return *holder;
}

Result<std::vector<LockHolder>> live_shared_locks(Storage& storage, const Clock& clock) {
    std::vector<LockHolder> live;
    for (const auto& object : LB_TRY(storage.list("locks"))) {
        if (object.key.rfind("locks/shared-", 0) != 0) continue;
        auto holder = LB_TRY(live_lock(storage, object.key, clock));
        if (holder) live.push_back(std::move(*holder));
    }
    return live;
}

}  // namespace

Result<LockHolder> parse_lock(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "lock"));
    const JsonValue j = doc.root();
    LockHolder holder;
    holder.key = key;
    holder.kind = LB_TRY(j.optional<std::string>("kind", ""));
    holder.purpose = LB_TRY(j.optional<std::string>("purpose", ""));
    holder.host = LB_TRY(j.optional<std::string>("host", ""));
    // pid_t is 32 bits: anything else was never a process id.
    const auto pid = LB_TRY(j.optional_field("pid"));
    holder.pid = pid ? LB_TRY(pid->as_in<std::int64_t>(0, INT32_MAX)) : 0;
    holder.boot_id = LB_TRY(j.optional<std::string>("boot_id", ""));
    holder.pid_namespace = LB_TRY(j.optional<std::string>("pid_namespace", ""));
    holder.token = LB_TRY(j.optional<std::string>("token", ""));
    holder.started = LB_TRY(j.required<Timestamp>("started"));
    holder.refreshed = LB_TRY(j.nullable<Timestamp>("refreshed")).value_or(holder.started);
    return holder;
}

// The held lock: its body is rewritten every refresh_every by a thread of its own. The mutex
// guards only what the refresher reports; storage calls (and their retries, which can take
// minutes) run without it, so check() never waits behind a stuck refresh.
struct RepositoryLock::State {
    Storage* storage;
    std::string key;
    json body;  // touched by the refresher thread only, once started
    const std::string token_value;
    const LockTiming timing;
    const Clock& clock;
    mutable std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    Timestamp last_refreshed;         // the last time the stored lock was known to be ours
    std::string last_failure;         // why the latest refresh failed; empty after a success
    std::optional<std::string> lost;  // set once a refresh found the lock taken away
    std::thread refresher;

    State(Storage& s, std::string k, json b, const LockTiming& t)
        : storage(&s),
          key(std::move(k)),
          body(std::move(b)),
          token_value(body.at("token").get<std::string>()),
          timing(t),
          clock(t.clock ? *t.clock : system_clock()),
          last_refreshed(clock.now()) {}
    ~State() { stop(); }

    const std::string& token() const { return token_value; }

    // One refresh: only while the stored lock is still ours (a lock taken away must not be
    // re-created). Runs without the mutex.
    Status refresh_once(Timestamp now) {
        body["refreshed"] = format_iso8601(now);
        auto current = read_lock(*storage, key);
        if (!current && current.error().code != ErrorCode::not_found)
            return std::unexpected(current.error());
        if (!current || current->token != token()) {
            return fail(ErrorCode::conflict,
                        "the repository lock {} was taken away (removed or replaced by another "
                        "process); stopping before changing anything more",
                        key);
        }
        return storage->write(key, body.dump(), Overwrite::allow);
    }

    void start() {
        refresher = std::thread([this] {
            std::unique_lock lock(mutex);
            auto interval = timing.refresh_every;
            while (!wake.wait_for(lock, interval, [this] { return stopping; })) {
                lock.unlock();
                const Timestamp now = clock.now();
                const Status refreshed = refresh_once(now);
                lock.lock();
                if (refreshed) {
                    last_refreshed = now;
                    last_failure.clear();
                    interval = timing.refresh_every;
                } else if (refreshed.error().code == ErrorCode::conflict) {
                    lost = refreshed.error().message;
                    return;
                } else {
                    last_failure = refreshed.error().message;
                    interval = timing.retry_every;
                }
            }
        });
    }
    void stop() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        wake.notify_all();
        if (refresher.joinable()) refresher.join();
    }
    Status check() const {
        std::lock_guard lock(mutex);
        if (lost) return fail(ErrorCode::conflict, "{}", *lost);
        const std::int64_t unrefreshed = clock.now().micros - last_refreshed.micros;
        const std::int64_t limit =
            std::chrono::duration_cast<std::chrono::microseconds>(timing.give_up_after).count();
        if (unrefreshed <= limit) return {};
        return fail(ErrorCode::unavailable,
                    "the repository lock {} could not be refreshed for {} s{}; stopping before "
                    "another host could judge it stale",
                    key, unrefreshed / 1000000,
                    last_failure.empty() ? std::string() : " (" + last_failure + ")");
    }
};

std::string LockHolder::describe() const {
    return fmt::format("{} (pid {} on {}, since {})", purpose.empty() ? kind : purpose, pid, host,
                       format_iso8601(started));
}

bool lock_is_stale(const LockHolder& holder, Timestamp now) {
    if (holder.kind == "damaged") return true;
    const bool judge_by_pid = holder.host == this_host() && !holder.boot_id.empty() &&
                              holder.boot_id == this_boot_id() &&
                              holder.pid_namespace == this_pid_namespace();
    if (judge_by_pid) {
        return holder.pid <= 0 ||
               (::kill(static_cast<pid_t>(holder.pid), 0) != 0 && errno == ESRCH);
    }
    return now.micros - holder.refreshed.micros > k_unrefreshed_stale_micros;
}

Result<std::vector<LockHolder>> read_locks(const Storage& storage) {
    std::vector<LockHolder> out;
    for (const auto& object : LB_TRY(storage.list("locks"))) {
        auto holder = read_lock(storage, object.key);
        if (holder) out.push_back(std::move(*holder));
    }
    return out;
}

namespace {

Result<json> new_body(const std::string& kind, const std::string& purpose, const Clock& clock) {
    const std::string now = format_iso8601(clock.now());
    return json{{"kind", kind},
                {"purpose", purpose},
                {"host", this_host()},
                {"pid", static_cast<long>(::getpid())},
                {"boot_id", this_boot_id()},
                {"pid_namespace", this_pid_namespace()},
                {"started", now},
                {"refreshed", now},
                {"token", to_hex(LB_TRY(random_bytes(16)))}};
}

// Publishes `body` under `key` with no-replace. A conflict with our own token is success: a
// retried request whose first attempt had landed.
Status publish(Storage& storage, const std::string& key, const json& body) {
    auto written = storage.write(key, body.dump(), Overwrite::never);
    if (written || written.error().code != ErrorCode::conflict) return written;
    auto current = read_lock(storage, key);
    if (current && current->token == body.at("token").get<std::string>()) return {};
    return written;
}

// The pause between two looks at a lock held by someone else; a cancellation ends it.
Status wait_a_moment(const LockTiming& timing, std::chrono::milliseconds pause) {
    if (timing.cancellation) return timing.cancellation->sleep_for(pause);
    std::this_thread::sleep_for(pause);
    return {};
}

}  // namespace

RepositoryLock::RepositoryLock(std::unique_ptr<State> state) : m_state(std::move(state)) {
    m_state->start();
}

Result<RepositoryLock> RepositoryLock::exclusive(Storage& storage, const std::string& purpose,
                                                 std::chrono::seconds wait,
                                                 const LockWaitFn& on_wait,
                                                 const LockTiming& timing) {
    if (timing.cancellation) LB_CHECK(timing.cancellation->check());
    const json body = LB_TRY(new_body("exclusive", purpose, clock_of(timing)));
    for (int attempt = 0;; ++attempt) {
        auto written = publish(storage, k_exclusive_key, body);
        if (written) break;
        if (written.error().code != ErrorCode::conflict || attempt > 2)
            return std::unexpected(written.error().context("taking the repository lock"));
        auto holder = LB_TRY(live_lock(storage, k_exclusive_key, clock_of(timing)));
        if (holder) {
            return fail(ErrorCode::conflict,
                        "the repository is locked by {}; try again when it has finished (if that "
                        "process is gone for good, remove {}/{})",
                        holder->describe(), storage.location(), k_exclusive_key);
        }
    }
    RepositoryLock lock(std::make_unique<State>(storage, k_exclusive_key, body, timing));
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        const auto shared = LB_TRY(live_shared_locks(storage, clock_of(timing)));
        if (shared.empty()) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            return fail(ErrorCode::unavailable, "{} still holds the repository after {} s",
                        shared.front().describe(), wait.count());
        }
        if (on_wait) on_wait(shared.front().describe());
        // On cancellation `lock` is released on the way out.
        LB_CHECK(wait_a_moment(timing, std::chrono::milliseconds(250)));
    }
    return lock;
}

Result<RepositoryLock> RepositoryLock::shared(Storage& storage, const std::string& purpose,
                                              std::chrono::seconds wait, const LockWaitFn& on_wait,
                                              const LockTiming& timing) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (timing.cancellation) LB_CHECK(timing.cancellation->check());
        const json body = LB_TRY(new_body("shared", purpose, clock_of(timing)));
        const std::string key = "locks/shared-" + to_hex(LB_TRY(random_bytes(8)));
        LB_CHECK(publish(storage, key, body));
        RepositoryLock lock(std::make_unique<State>(storage, key, body, timing));
        auto holder = live_lock(storage, k_exclusive_key, clock_of(timing));
        if (!holder) return std::unexpected(holder.error());
        if (!*holder) return lock;
        LB_CHECK(lock.release());
        if (std::chrono::steady_clock::now() >= deadline) {
            return fail(ErrorCode::unavailable, "the repository is locked by {} (waited {} s)",
                        (*holder)->describe(), wait.count());
        }
        if (on_wait) on_wait((*holder)->describe());
        LB_CHECK(wait_a_moment(timing, std::chrono::milliseconds(500)));
    }
}

Result<std::optional<RepositoryLock>> RepositoryLock::shared_for_reading(Storage& storage,
                                                                         const std::string& purpose,
                                                                         std::chrono::seconds wait,
                                                                         const LockWaitFn& on_wait,
                                                                         const LockTiming& timing) {
    auto lock = shared(storage, purpose, wait, on_wait, timing);
    if (lock) return std::optional<RepositoryLock>(std::move(*lock));
    const ErrorCode code = lock.error().code;
    if (code == ErrorCode::unavailable || code == ErrorCode::conflict ||
        code == ErrorCode::corrupt || code == ErrorCode::not_a_repository ||
        code == ErrorCode::interrupted)
        return std::unexpected(lock.error());
    // Cannot write here: read without a lock, but never while an expire holds the repository.
    auto holder = read_lock(storage, k_exclusive_key);
    if (holder && !lock_is_stale(*holder, clock_of(timing).now())) {
        return fail(ErrorCode::unavailable, "the repository is locked by {}", holder->describe());
    }
    if (!holder && holder.error().code != ErrorCode::not_found)
        return std::unexpected(holder.error());
    return std::optional<RepositoryLock>();
}

RepositoryLock::RepositoryLock(RepositoryLock&& other) noexcept = default;

RepositoryLock::~RepositoryLock() {
    (void)release();
}

const std::string& RepositoryLock::key() const {
    static const std::string none;
    return m_state ? m_state->key : none;
}

Status RepositoryLock::confirm() const {
    if (!m_state) return fail(ErrorCode::internal, "the repository lock was released");
    auto current = read_lock(*m_state->storage, m_state->key);
    if (current && current->token == m_state->token()) return {};
    // A storage that cannot answer says nothing about the lock: that error, not "taken away".
    if (!current && current.error().code != ErrorCode::not_found &&
        current.error().code != ErrorCode::corrupt)
        return std::unexpected(current.error().context("confirming the repository lock"));
    return fail(ErrorCode::conflict,
                "the repository lock {} was taken away (removed or replaced by another process); "
                "stopping before changing anything more",
                m_state->key);
}

Status RepositoryLock::check() const {
    if (!m_state) return fail(ErrorCode::internal, "the repository lock was released");
    return m_state->check();
}

Status RepositoryLock::release() {
    if (!m_state) return {};
    m_state->stop();
    auto current = read_lock(*m_state->storage, m_state->key);
    if (current && current->token != m_state->token()) {
        m_state.reset();  // no longer ours: leave it alone
        return {};
    }
    LB_CHECK(m_state->storage->remove_if_exists(m_state->key));
    m_state.reset();
    return {};
}

}  // namespace lifeboat::repo
