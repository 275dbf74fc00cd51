// Repository locks (docs/repository-format.md, "Locks"): `expire` holds the one exclusive lock;
// writers that add references to existing blocks (backup, copy into a repository, pin) and readers
// that must not see packs vanish (restore, drill, verify) hold shared locks. Locks are small
// objects under `locks/`:
//   locks/exclusive        {"kind": "exclusive", "purpose": "expire", "host": …, "pid": …,
//                           "boot_id": …, "pid_namespace": …, "started": …, "refreshed": …,
//                           "token": <random>}
//   locks/shared-<16 hex>  the same with "kind": "shared"
//
// Protocol (write first, then look, on both sides, so at least one party sees the other):
// - exclusive: publish locks/exclusive with no-replace (a live holder: ErrorCode::conflict at
// once),
//   then wait until no live shared lock remains (ErrorCode::unavailable after `wait`).
// - shared: publish a shared lock, then look for a live exclusive lock; if there is one, withdraw,
//   wait and try again (ErrorCode::unavailable after `wait`).
// A holder rewrites its lock every 5 minutes ("refreshed"). A lock is stale when it was taken on
// this host, in this boot and PID namespace, by a process that no longer runs; or, when that cannot
// be judged (another host, container or boot), when it has not been refreshed for an hour. Stale
// locks are removed by whoever finds them (after re-reading them: only the very lock judged).
// A holder whose refreshes keep failing gives up after 30 minutes (check() fails), well before
// another host could judge its lock stale; long operations call check() at each block or stage.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "storage/storage.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct LockHolder {
    std::string key;
    std::string kind;     // "exclusive" | "shared" | "damaged"
    std::string purpose;  // "expire", "backup", "copy", "restore", ...
    std::string host;
    long pid = 0;
    std::string boot_id;
    std::string pid_namespace;
    std::string token;
    Timestamp started;
    Timestamp refreshed;
    std::string describe() const;  // "expire (pid 123 on db1, since 2026-…Z)"
};

// Parses the body of lock `key` (JSON, no envelope): types checked, pid 0..2^31-1, times in
// range; ErrorCode::corrupt naming the key and the field otherwise (readers treat such a lock as
// damaged, hence stale). An entry point for fuzzing.
Result<LockHolder> parse_lock(std::string_view text, std::string_view key);

// Called while waiting, with what is being waited for; may be empty.
using LockWaitFn = std::function<void(const std::string& waiting_for)>;

// How a held lock keeps itself fresh. The defaults are the protocol's; tests shorten them and pass
// their own clock. `give_up_after` must stay well below the staleness threshold (an hour).
struct LockTiming {
    std::chrono::milliseconds refresh_every = std::chrono::minutes(5);
    std::chrono::milliseconds retry_every = std::chrono::seconds(30);  // after a failed refresh
    std::chrono::milliseconds give_up_after = std::chrono::minutes(30);
    const Clock* clock = nullptr;  // system_clock() when null
    // Ends a lock wait promptly (ErrorCode::interrupted) once cancelled; none when null.
    const CancellationToken* cancellation = nullptr;
};

class RepositoryLock {
  public:
    static Result<RepositoryLock> exclusive(Storage& storage, const std::string& purpose,
                                            std::chrono::seconds wait,
                                            const LockWaitFn& on_wait = {},
                                            const LockTiming& timing = LockTiming{});
    static Result<RepositoryLock> shared(Storage& storage, const std::string& purpose,
                                         std::chrono::seconds wait, const LockWaitFn& on_wait = {},
                                         const LockTiming& timing = LockTiming{});
    // For readers (restore, drill, verify): a shared lock, or none when the repository cannot be
    // written (a read-only mount or bucket policy); even then a live exclusive lock is refused.
    static Result<std::optional<RepositoryLock>> shared_for_reading(
        Storage& storage, const std::string& purpose, std::chrono::seconds wait,
        const LockWaitFn& on_wait = {}, const LockTiming& timing = LockTiming{});
    RepositoryLock(RepositoryLock&&) noexcept;
    RepositoryLock& operator=(RepositoryLock&&) = delete;
    ~RepositoryLock();  // releases (best effort)

    // Checks that the stored lock is still this one (ErrorCode::conflict if it was taken away):
    // expire calls it before each destructive step, backup before publishing its manifest.
    Status confirm() const;
    // Whether the holder may go on, from what the refresher learnt (no storage call, never waits
    // for one): ErrorCode::unavailable once no refresh has succeeded for `give_up_after` (even
    // while one is still stuck in retries), ErrorCode::conflict once a refresh found the lock taken
    // away. Long operations call it at each block or stage and stop on failure.
    Status check() const;
    Status release();
    const std::string& key() const;

  private:
    struct State;
    explicit RepositoryLock(std::unique_ptr<State> state);
    std::unique_ptr<State> m_state;
};

// Every lock currently stored, live or stale (for messages and tests).
Result<std::vector<LockHolder>> read_locks(const Storage& storage);
bool lock_is_stale(const LockHolder& holder, Timestamp now);

}  // namespace lifeboat::repo
