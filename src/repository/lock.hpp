// Repository locks (docs/repository-format.md, "Locks"): `expire` holds the one exclusive lock;
// writers that add references to existing blocks (backup, copy into a repository) and readers that
// must not see packs vanish (restore, drill) hold shared locks. Locks are small objects under
// `locks/`:
//   locks/exclusive        {"kind": "exclusive", "purpose": "expire", "host": …, "pid": …, "started": …}
//   locks/shared-<16 hex>  the same with "kind": "shared"
//
// Protocol (write first, then look, on both sides, so at least one party sees the other):
// - exclusive: publish locks/exclusive with no-replace (a live holder: ErrorCode::conflict at once),
//   then wait until no live shared lock remains (ErrorCode::unavailable after `wait`).
// - shared: publish a shared lock, then look for a live exclusive lock; if there is one, withdraw,
//   wait a second and try again (ErrorCode::unavailable after `wait`).
// A lock is stale when it was taken on this host by a process that no longer runs, or on another
// host more than 24 hours ago; stale locks are removed by whoever finds them.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "storage/storage.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct LockHolder {
    std::string key;
    std::string kind;     // "exclusive" | "shared"
    std::string purpose;  // "expire", "backup", "copy", "restore", ...
    std::string host;
    long pid = 0;
    Timestamp started;
    std::string describe() const;  // "expire (pid 123 on db1, since 2026-…Z)"
};

// Called while waiting, with what is being waited for; may be empty.
using LockWaitFn = std::function<void(const std::string& waiting_for)>;

class RepositoryLock {
  public:
    static Result<RepositoryLock> exclusive(Storage& storage, const std::string& purpose,
                                            std::chrono::seconds wait, const LockWaitFn& on_wait = {});
    static Result<RepositoryLock> shared(Storage& storage, const std::string& purpose,
                                         std::chrono::seconds wait, const LockWaitFn& on_wait = {});
    // For readers (restore, drill): a shared lock, or none when the repository cannot be written
    // (a read-only mount or bucket policy); only a held exclusive lock is an error then.
    static Result<std::optional<RepositoryLock>> shared_for_reading(Storage& storage,
                                                                    const std::string& purpose,
                                                                    std::chrono::seconds wait,
                                                                    const LockWaitFn& on_wait = {});
    RepositoryLock(RepositoryLock&& other) noexcept;
    RepositoryLock& operator=(RepositoryLock&&) = delete;
    ~RepositoryLock();  // releases (best effort)

    Status release();
    const std::string& key() const { return m_key; }

  private:
    RepositoryLock(Storage& storage, std::string key) : m_storage(&storage), m_key(std::move(key)) {}
    Storage* m_storage;
    std::string m_key;  // empty once released
};

// Every lock currently stored, live or stale (for messages and tests).
Result<std::vector<LockHolder>> read_locks(const Storage& storage);
bool lock_is_stale(const LockHolder& holder, Timestamp now);

}  // namespace lifeboat::repo
