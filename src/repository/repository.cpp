#include "repository/repository.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "repository/encrypted_storage.hpp"
#include "repository/json_reader.hpp"
#include "repository/object.hpp"
#include "storage/open_storage.hpp"
#include "util/fs.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

using nlohmann::json;

namespace {
constexpr std::string_view k_config_key = "config";

std::string random_hex(std::size_t bytes) {
    std::random_device rd;
    std::string raw;
    while (raw.size() < bytes)
        raw.push_back(static_cast<char>(rd() & 0xff));
    return to_hex(raw);
}
}  // namespace

Result<Repository> Repository::with_keys(std::unique_ptr<Storage> storage, RepositoryConfig config,
                                         const WorkingKeys* keys) {
    Storage& stored = *storage;
    if (!keys) return Repository(std::move(storage), stored, std::move(config), BlockHasher());
    auto encrypted = std::make_unique<EncryptedStorage>(std::move(storage), keys->object_key);
    return Repository(std::move(encrypted), stored, std::move(config),
                      BlockHasher::keyed(keys->block_id_key));
}

namespace {
json encryption_json(const std::optional<EncryptionConfig>& e) {
    if (!e) return nullptr;
    return {{"cipher", e->cipher},          {"kdf", e->kdf},           {"salt", e->salt},
            {"scrypt_n", e->scrypt_n},      {"scrypt_r", e->scrypt_r}, {"scrypt_p", e->scrypt_p},
            {"wrapped_key", e->wrapped_key}};
}

Result<EncryptionConfig> encryption_from_json(const JsonValue& j) {
    EncryptionConfig e;
    e.cipher = LB_TRY(j.required<std::string>("cipher"));
    e.kdf = LB_TRY(j.required<std::string>("kdf"));
    e.salt = LB_TRY(j.required<std::string>("salt"));
    e.scrypt_n = LB_TRY(j.optional<std::uint64_t>("scrypt_n", 0));
    e.scrypt_r = LB_TRY(j.optional<std::uint32_t>("scrypt_r", 0));
    e.scrypt_p = LB_TRY(j.optional<std::uint32_t>("scrypt_p", 0));
    e.wrapped_key = LB_TRY(j.required<std::string>("wrapped_key"));
    if (e.kdf == "scrypt") {
        // scrypt takes 128 * r * n bytes and p times the work: a forged config must not make
        // every open allocate gigabytes. Lifeboat writes n = 2^15, r = 8, p = 1.
        const bool power_of_two = e.scrypt_n >= 2 && (e.scrypt_n & (e.scrypt_n - 1)) == 0;
        if (!power_of_two || e.scrypt_n > (1u << 20)) {
            return std::unexpected(
                LB_TRY(j.field("scrypt_n"))
                    .problem(fmt::format("{} is not a power of two up to 2^20", e.scrypt_n)));
        }
        if (e.scrypt_r < 1 || e.scrypt_r > 32)
            return std::unexpected(LB_TRY(j.field("scrypt_r")).problem("outside 1..32"));
        if (e.scrypt_p < 1 || e.scrypt_p > 16)
            return std::unexpected(LB_TRY(j.field("scrypt_p")).problem("outside 1..16"));
    }
    return e;
}

}  // namespace

std::string_view retention_mode_name(RetentionMode mode) {
    return mode == RetentionMode::compliance ? "compliance" : "governance";
}

Result<RetentionMode> parse_retention_mode(std::string_view text) {
    if (text == "governance") return RetentionMode::governance;
    if (text == "compliance") return RetentionMode::compliance;
    return fail(ErrorCode::usage, "object-lock mode '{}' is neither governance nor compliance",
                text);
}

namespace {
// What the storage is told to do for a repository with object lock.
RetentionRule retention_rule(const ObjectLockConfig& lock) {
    // Locks are rewritten every few minutes and removed on release, tmp/ holds what is being
    // written, and pins are replaced and removed by `pin` and `unpin`: retaining them would pile
    // up undeletable versions and make unpin impossible. A pin protects its backup with a legal
    // hold (pin --legal-hold), not with its own retention.
    return {
        .mode = lock.mode, .period = lock.period(), .exempt_prefixes = {"locks/", "tmp/", "pins/"}};
}
}  // namespace

Result<RepositoryConfig> parse_config(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "config"));
    const JsonValue j = doc.root();
    RepositoryConfig config;
    config.repository_id = LB_TRY(j.required<std::string>("repository_id"));
    // Informational only: an unreadable creation time must not make the repository unusable.
    auto created = LB_TRY(j.field("created")).as<Timestamp>();
    config.created = created ? *created : Timestamp{};
    const JsonValue block_size = LB_TRY(j.field("block_size"));
    config.block_size = LB_TRY(block_size.as<std::uint32_t>());
    if (config.block_size == 0 || config.block_size % 8192 != 0) {
        return std::unexpected(block_size.problem(
            fmt::format("block_size {} is not a multiple of 8192", config.block_size)));
    }
    config.pack_target_size =
        LB_TRY(j.required_in<std::uint64_t>("pack_target_size", 1, UINT64_MAX));
    // The levels repo-init accepts.
    config.compression_level =
        LB_TRY(LB_TRY(j.field("compression")).required_in<int>("level", 1, 19));
    const JsonValue encryption = LB_TRY(j.field("encryption"));
    if (!encryption.is_null()) config.encryption = LB_TRY(encryption_from_json(encryption));
    const std::optional<JsonValue> lock = LB_TRY(j.optional_field("object_lock"));
    if (lock && !lock->is_null()) {
        ObjectLockConfig parsed;
        const std::string mode = LB_TRY(lock->required<std::string>("mode"));
        auto known = parse_retention_mode(mode);
        if (!known) {
            return std::unexpected(
                LB_TRY(lock->field("mode")).problem("neither governance nor compliance"));
        }
        parsed.mode = *known;
        parsed.days = LB_TRY(lock->required_in<std::uint32_t>("days", 1, k_max_object_lock_days));
        config.object_lock = parsed;
    }
    return config;
}

namespace {

constexpr std::array<const char*, 6> k_layout = {"data", "index", "backups", "wal", "locks", "tmp"};

// What a location holds before repo-init writes to it.
enum class InitState { empty, layout_only, repository, other };

// A local directory holding nothing but Lifeboat's empty sub-directories is what an interrupted
// repo-init leaves (they are made before the config object); repo-init may build on it.
Result<InitState> local_init_state(const fs::path& root) {
    std::error_code ec;
    if (!fs::exists(root, ec)) return InitState::empty;
    if (!fs::is_directory(root, ec)) return InitState::other;
    if (fs::exists(root / std::string(k_config_key), ec)) return InitState::repository;
    bool any = false;
    for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        any = true;
        const std::string name = it->path().filename().string();
        const bool layout = std::find(k_layout.begin(), k_layout.end(), name) != k_layout.end();
        if (!layout || !it->is_directory() || !LB_TRY(directory_is_empty_or_missing(it->path())))
            return InitState::other;
    }
    if (ec) return fail(ErrorCode::io, "cannot list {}: {}", root.string(), ec.message());
    return any ? InitState::layout_only : InitState::empty;
}

// The directories repo-init made, removed again (empty ones only, newest first) unless the
// repository was published: a failed repo-init leaves the location as it found it.
class CreatedDirectories {
  public:
    CreatedDirectories() = default;
    CreatedDirectories(const CreatedDirectories&) = delete;
    CreatedDirectories& operator=(const CreatedDirectories&) = delete;
    ~CreatedDirectories() {
        if (m_published) return;
        std::error_code ec;
        for (auto it = m_created.rbegin(); it != m_created.rend(); ++it)
            fs::remove(*it, ec);  // fails, harmlessly, on a directory someone else filled
    }
    Status make(const fs::path& dir) {
        std::error_code ec;
        if (fs::create_directory(dir, ec)) {
            m_created.push_back(dir);
            // 0750 whatever the umask: a repository is not for every local user to read.
            if (::chmod(dir.c_str(), 0750) != 0) {
                return fail(ErrorCode::io, "cannot set the mode of {}: {}", dir.string(),
                            errno_text(errno));
            }
            return {};
        }
        if (ec)
            return fail(ErrorCode::io, "cannot create directory {}: {}", dir.string(),
                        ec.message());
        return {};
    }
    Status make_with_parents(const fs::path& dir) {
        std::vector<fs::path> missing;
        std::error_code ec;
        for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
            missing.push_back(p);
            if (p == p.parent_path()) break;
        }
        for (auto it = missing.rbegin(); it != missing.rend(); ++it)
            LB_CHECK(make(*it));
        return {};
    }
    void published() { m_published = true; }

  private:
    std::vector<fs::path> m_created;
    bool m_published = false;
};

}  // namespace

Result<Repository> Repository::open(const std::string& location, const KeySource& keys) {
    return open(LB_TRY(open_storage(location)), keys);
}

Result<Repository> Repository::open(std::unique_ptr<Storage> storage, const KeySource& keys) {
    // A local directory can say more than "no config object" about what is there instead; an
    // object store without one is simply a repository that does not exist.
    const std::optional<fs::path> local = storage->features().local_path;
    std::error_code ec;
    if (local && fs::exists(*local, ec) && !fs::is_directory(*local, ec)) {
        return fail(ErrorCode::not_a_repository, "{} is a file, not a Lifeboat repository",
                    storage->location());
    }
    auto bytes = storage->read(std::string(k_config_key));
    if (!bytes) {
        if (bytes.error().code == ErrorCode::not_found) {
            if (!local || !fs::exists(*local, ec)) {
                return fail(ErrorCode::not_a_repository,
                            "repository {} does not exist (create it with `lifeboat repo-init`)",
                            storage->location());
            }
            switch (LB_TRY(local_init_state(*local))) {
                case InitState::empty:
                    return fail(ErrorCode::not_a_repository,
                                "{} is an empty directory, not yet a Lifeboat repository (create "
                                "one there with `lifeboat repo-init`)",
                                storage->location());
                case InitState::layout_only:
                    return fail(ErrorCode::not_a_repository,
                                "{} is not a Lifeboat repository: it holds only the empty "
                                "directories of an unfinished repo-init (run `lifeboat repo-init` "
                                "on it again)",
                                storage->location());
                default:
                    return fail(ErrorCode::not_a_repository,
                                "{} is not a Lifeboat repository (no config object), and "
                                "`lifeboat repo-init` refuses it because it is not empty; check "
                                "--repo (if a failed repo-init left it, remove it and run "
                                "repo-init again)",
                                storage->location());
            }
        }
        return std::unexpected(bytes.error());
    }
    auto payload = decode_object(*bytes, ObjectKind::config, storage->location() + "/config");
    if (!payload) {
        return fail(ErrorCode::not_a_repository, "{} is not a usable Lifeboat repository: {}",
                    storage->location(), payload.error().message);
    }
    RepositoryConfig config = LB_TRY(parse_config(*payload, storage->location() + "/config"));
    if (config.object_lock) {
        ObjectLocking* locking = storage->object_locking();
        if (locking == nullptr) {
            return fail(ErrorCode::repository,
                        "repository {} was created with object lock, but this storage has none",
                        storage->location());
        }
        locking->retain_new_objects(retention_rule(*config.object_lock));
    }
    if (!config.encryption) {
        // A key given for a plaintext repository means the user believes it is encrypted (or
        // named the wrong repository): saying nothing would leave that belief standing.
        if (keys.key_file) {
            return fail(ErrorCode::usage,
                        "repository {} is not encrypted, but a key file ({}) was given for it; "
                        "drop --key-file (or key_file / LIFEBOAT_KEY_FILE)",
                        storage->location(), keys.key_file->string());
        }
        return with_keys(std::move(storage), std::move(config), nullptr);
    }
    const WorkingKeys unlocked =
        LB_TRY(unlock_keys(*config.encryption, config.repository_id, storage->location(), keys));
    return with_keys(std::move(storage), std::move(config), &unlocked);
}

Result<Repository> Repository::init(const std::string& location, RepositoryConfig config,
                                    Encryption encryption, const KeySource& keys,
                                    const StageHookFn& stage_hook) {
    return init(LB_TRY(open_storage(location)), std::move(config), encryption, keys, stage_hook);
}

Result<Repository> Repository::init(std::unique_ptr<Storage> storage, RepositoryConfig config,
                                    Encryption encryption, const KeySource& keys,
                                    const StageHookFn& stage_hook) {
    const std::string location = storage->location();
    if (encryption == Encryption::none && !keys.empty()) {
        return fail(ErrorCode::usage,
                    "repository {}: {} given but not --encrypt; add --encrypt to create an "
                    "encrypted repository (or drop the key to create a plaintext one)",
                    location,
                    keys.key_file ? fmt::format("a key file ({}) was", keys.key_file->string())
                                  : std::string("LIFEBOAT_PASSPHRASE was"));
    }
    // A local repository is a directory with sub-directories; an object store has no folders,
    // and "empty" means no object under the prefix.
    const std::optional<fs::path> local = storage->features().local_path;
    InitState state = InitState::empty;
    if (local) {
        state = LB_TRY(local_init_state(*local));
    } else if (!LB_TRY(storage->list("")).empty()) {
        state = storage->stat(std::string(k_config_key)) ? InitState::repository : InitState::other;
    }
    if (state == InitState::repository) {
        return fail(ErrorCode::conflict, "{} is already a Lifeboat repository", location);
    }
    if (state == InitState::other) {
        return fail(ErrorCode::conflict,
                    "{} is not empty and holds no Lifeboat repository (no config object), so "
                    "other commands refuse it as \"not a Lifeboat repository\"; create the "
                    "repository in a new or empty directory (if a failed repo-init left it, "
                    "remove it and run repo-init again)",
                    location);
    }
    if (config.block_size == 0 || config.block_size % 8192 != 0) {
        return fail(ErrorCode::usage, "block size {} is not a multiple of 8192", config.block_size);
    }
    if (config.compression_level < 1 || config.compression_level > 19) {
        return fail(ErrorCode::usage, "compression level {} is outside 1..19",
                    config.compression_level);
    }
    if (config.object_lock) {
        if (config.object_lock->days < 1 || config.object_lock->days > k_max_object_lock_days) {
            return fail(ErrorCode::usage, "--object-lock-days {} is outside 1..{}",
                        config.object_lock->days, k_max_object_lock_days);
        }
        ObjectLocking* locking = storage->object_locking();
        if (locking == nullptr || !LB_TRY(locking->bucket_lock_enabled())) {
            return fail(ErrorCode::usage,
                        "{} has no object lock: --object-lock-days needs an S3 bucket created "
                        "with object lock enabled (aws s3api create-bucket --bucket NAME "
                        "--object-lock-enabled-for-bucket, i.e. the header "
                        "x-amz-bucket-object-lock-enabled: true; it cannot be turned on later "
                        "for most stores)",
                        location);
        }
        locking->retain_new_objects(retention_rule(*config.object_lock));
    }
    // Everything that can be refused (settings, keys) is settled before the first write: a
    // refused key must not leave a half-made repository directory behind.
    config.repository_id = random_hex(16);
    std::optional<WorkingKeys> working;
    if (encryption == Encryption::aes_256_gcm) {
        auto [stored, unlocked] = LB_TRY(create_keys(config.repository_id, location, keys));
        config.encryption = stored;
        working = unlocked;
    }
    json j = {{"format", k_format_version},
              {"repository_id", config.repository_id},
              {"created", format_iso8601(config.created)},
              {"block_size", config.block_size},
              {"pack_target_size", config.pack_target_size},
              {"compression", {{"codec", "zstd"}, {"level", config.compression_level}}},
              {"encryption", encryption_json(config.encryption)}};
    if (config.object_lock) {
        j["object_lock"] = {{"mode", retention_mode_name(config.object_lock->mode)},
                            {"days", config.object_lock->days}};
    }
    const std::string object =
        LB_TRY(encode_object(ObjectKind::config, j.dump(2) + "\n", PayloadCompression::none));
    CreatedDirectories created;
    if (local) {
        LB_CHECK(created.make_with_parents(*local));
        // An empty directory the operator made keeps what it had, minus anything beyond 0750.
        struct stat st {};
        if (::stat(local->c_str(), &st) == 0 && (st.st_mode & 07777 & ~0750u) != 0 &&
            ::chmod(local->c_str(), st.st_mode & 0750) != 0) {
            return fail(ErrorCode::repository, "cannot set the mode of {}: {}", local->string(),
                        errno_text(errno));
        }
        for (const char* dir : k_layout)
            LB_CHECK(created.make(*local / dir));
    }
    if (stage_hook) LB_CHECK(stage_hook("repo-init"));
    // The config object is what makes the location a repository, so it is published last.
    auto published = storage->write(std::string(k_config_key), object, Overwrite::never);
    if (!published) {
        // Another repo-init won the race: its directories are its own now.
        if (published.error().code == ErrorCode::conflict) created.published();
        return std::unexpected(published.error());
    }
    created.published();
    return with_keys(std::move(storage), std::move(config), working ? &*working : nullptr);
}

Result<std::vector<std::string>> Repository::loose_permissions() const {
    const Storage& storage = *m_storage;
    if (const LocalFiles* local = storage.local_files()) return local->loose_permissions();
    return std::vector<std::string>{};
}

Status Repository::clean_stale_temporaries() {
    if (LocalFiles* local = m_storage->local_files()) return local->clean_stale_temporaries();
    return {};
}

Result<std::vector<std::string>> Repository::abort_stale_uploads(Timestamp now,
                                                                 std::chrono::seconds older_than) {
    std::vector<std::string> aborted;
    PendingUploads* pending = m_storage->pending_uploads();
    if (pending == nullptr) return aborted;
    const std::vector<PendingUpload> uploads = LB_TRY(pending->list_pending_uploads());
    const std::int64_t limit = now.micros - std::chrono::microseconds(older_than).count();
    for (const PendingUpload& upload : uploads) {
        if (upload.started.micros > limit) continue;
        LB_CHECK(pending->abort_pending_upload(upload));
        aborted.push_back(fmt::format("aborted an abandoned upload of {} (started {})", upload.key,
                                      format_iso8601(upload.started)));
    }
    return aborted;
}

Result<std::string> Repository::move_aside(const std::string& key) {
    // Below the encryption layer: a damaged encrypted object cannot be decrypted, and its bytes
    // are bound to its name, so they are moved as stored.
    Storage* base = m_stored;
    const std::string bytes = LB_TRY(base->read(key));
    std::string destination = "damaged/" + key;
    for (int n = 2;; ++n) {
        auto written = base->write(destination, bytes, Overwrite::never);
        if (written) break;
        if (written.error().code != ErrorCode::conflict || n > 100)
            return std::unexpected(written.error());
        destination = fmt::format("damaged/{}.{}", key, n);
    }
    LB_CHECK(base->remove_if_exists(key));
    return destination;
}

}  // namespace lifeboat::repo
