// Repository: an opened, checked repository (its config object read and understood) over one
// Storage. Every command except repo-init goes through Repository::open, which refuses anything
// that is not a Lifeboat repository with ErrorCode::not_a_repository. The repository knows
// storage only through the Storage interface and its declared features (a local directory gets
// its sub-directories and mode checks because features().local_path says it is one); which
// backend a location names is decided by open_storage (storage/open_storage.hpp).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "repository/block.hpp"
#include "repository/keys.hpp"
#include "storage/storage.hpp"
#include "util/operation_context.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

// Object-lock retention (S3 Object Lock): every object written to the repository is kept by the
// store, undeletable, for `days` after its write (locks/, tmp/ and pins/ aside: they come and go).
struct ObjectLockConfig {
    RetentionMode mode = RetentionMode::governance;
    std::uint32_t days = 0;  // 1..36500
    std::chrono::seconds period() const { return std::chrono::hours(24) * days; }
};
inline constexpr std::uint32_t k_max_object_lock_days = 36500;
std::string_view retention_mode_name(RetentionMode mode);  // "governance" | "compliance"
// "governance" | "compliance"; ErrorCode::usage otherwise.
Result<RetentionMode> parse_retention_mode(std::string_view text);

struct RepositoryConfig {
    std::string repository_id;  // 32 hex digits, random
    Timestamp created;
    std::uint32_t block_size = 256 * 1024;
    std::uint64_t pack_target_size = 32ull * 1024 * 1024;
    int compression_level = 3;
    std::optional<EncryptionConfig> encryption;   // nullopt: not encrypted
    std::optional<ObjectLockConfig> object_lock;  // nullopt: no retention
};

enum class Encryption { none, aes_256_gcm };

// Parses the payload of the config object (JSON, envelope already checked), named `key` in
// errors: block_size a non-zero multiple of 8192 that fits 32 bits, compression level 1..19,
// scrypt parameters bounded (n a power of two up to 2^20, r 1..32, p 1..16), object_lock absent,
// null or {"mode": governance|compliance, "days": 1..36500}. ErrorCode::corrupt naming the field
// otherwise. An entry point for fuzzing.
Result<RepositoryConfig> parse_config(std::string_view text, std::string_view key);

class Repository {
  public:
    // Opens the repository in `storage` (any backend or wrapper, e.g. a fault-injecting one in
    // tests). `keys` is consulted only when the repository is encrypted; it is always given
    // explicitly (the CLI builds it), never read from the environment here.
    static Result<Repository> open(std::unique_ptr<Storage> storage, const KeySource& keys = {});
    // The same for a location string (open_storage, then open).
    static Result<Repository> open(const std::string& location, const KeySource& keys = {});
    // Opening a repository with object_lock makes the storage retain every new object
    // (ObjectLocking::retain_new_objects); a storage without object lock is refused
    // (ErrorCode::repository).
    // Creates a repository in `storage`: a local directory must be missing or empty, an object
    // store must hold nothing under the prefix. With config.object_lock the storage must be an
    // object store whose bucket has object lock enabled (ErrorCode::usage otherwise, saying how
    // to create one); the config object is the first object written under retention. `stage_hook`
    // (tests) is called at "repo-init", after the directories are made and before the config object
    // is published.
    static Result<Repository> init(std::unique_ptr<Storage> storage, RepositoryConfig config,
                                   Encryption encryption = Encryption::none,
                                   const KeySource& keys = {}, const StageHookFn& stage_hook = {});
    static Result<Repository> init(const std::string& location, RepositoryConfig config,
                                   Encryption encryption = Encryption::none,
                                   const KeySource& keys = {}, const StageHookFn& stage_hook = {});

    Storage& storage() { return *m_storage; }
    const Storage& storage() const { return *m_storage; }
    const RepositoryConfig& config() const { return m_config; }
    std::string location() const { return m_storage->location(); }

    // How this repository computes block ids (keyed when encrypted).
    const BlockHasher& block_hasher() const { return m_hasher; }
    bool encrypted() const { return m_config.encryption.has_value(); }

    // A local repository's files and directories whose modes are looser than 0640 / 0750
    // (LocalFiles::loose_permissions); nothing for a storage without local files.
    Result<std::vector<std::string>> loose_permissions() const;

    // Removes temporary objects left by dead writers (call before writing).
    Status clean_stale_temporaries();

    // Aborts the uploads an object store holds for writers that started them more than
    // `older_than` before `now` and never finished (Storage::pending_uploads(); nothing for a
    // storage without them). Younger uploads may belong to a live writer (wal-push takes no lock)
    // and are left alone. Returns one line per upload aborted, for the operator.
    Result<std::vector<std::string>> abort_stale_uploads(Timestamp now,
                                                         std::chrono::seconds older_than);

    // Moves a damaged object to `damaged/<key>` (as stored: still encrypted in an encrypted
    // repository), so that readers stop tripping over it and nothing is lost; an object already
    // there under that name gets a numbered suffix. Returns the new key. Used by `repair` under
    // the exclusive lock.
    Result<std::string> move_aside(const std::string& key);

  private:
    Repository(std::unique_ptr<Storage> storage, Storage& stored, RepositoryConfig config,
               BlockHasher hasher)
        : m_storage(std::move(storage)),
          m_stored(&stored),
          m_config(std::move(config)),
          m_hasher(std::move(hasher)) {}
    // Wraps the storage for an encrypted repository and picks the block hasher.
    static Result<Repository> with_keys(std::unique_ptr<Storage> storage, RepositoryConfig config,
                                        const WorkingKeys* keys);
    std::unique_ptr<Storage> m_storage;
    // The storage below the encryption layer (m_storage itself when not encrypted), owned by
    // m_storage: objects as they are stored.
    Storage* m_stored;
    RepositoryConfig m_config;
    BlockHasher m_hasher;
};

}  // namespace lifeboat::repo
