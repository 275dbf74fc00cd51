// Storage: the interface every repository backend implements (posix, s3) and every wrapper
// (retry, fault injection, encryption; see storage/forwarding_storage.hpp) passes on. Keys are
// '/'-separated relative names ("data/ab/abcd..."). Backends are made from a location string by
// open_storage (storage/open_storage.hpp), the one place that knows which backends exist.
//
// Contract (checked for every backend by tests/conformance/storage_conformance.cpp):
// - Objects are immutable once published. A reader sees a whole published object or nothing:
//   never a partial write, never a mix of two writes.
// - `write` and `Upload::commit` publish atomically. With Overwrite::never, publishing a key that
//   already exists fails with ErrorCode::conflict and leaves the stored object untouched; with
//   Overwrite::allow the new object replaces the old one atomically.
// - A missing key is ErrorCode::not_found for read, read_range, stat and remove_if_exists is a
// no-op.
// - `list` returns every published key under a prefix (recursively), in no particular order;
//   objects still being written are never listed.
// - All methods may be called concurrently from several threads and processes.
//
// What goes beyond the contract differs between backends and is declared, never guessed from a
// backend's type: features() says how strong a backend's guarantees are and where its objects
// live, and local_files() offers what only a directory of local files has (a permission scan,
// the cleaning of temporaries). Callers branch on these, not on dynamic_cast. Conformance checks
// that each declared feature holds (tests/conformance/storage_conformance.cpp, "Declared
// features").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/time.hpp"

namespace lifeboat {

enum class Overwrite { never, allow };

struct ObjectInfo {
    std::string key;
    std::uint64_t size = 0;
    Timestamp modified;
};

// A streaming write of one object. Nothing is visible until commit(); destroying an Upload
// without commit() discards what was written.
class Upload {
  public:
    virtual ~Upload() = default;
    virtual Status append(std::string_view data) = 0;
    virtual std::uint64_t size() const = 0;
    virtual Status commit() = 0;
};

// How Overwrite::never is enforced.
enum class ConditionalCreate {
    // In one step by the backend itself: of any number of racing writers exactly one wins
    // (posix: link(2)).
    atomic,
    // Checked first, then sent with a condition the server is trusted to enforce (S3: HEAD, then
    // PUT with If-None-Match: *). A second create of an existing key is always refused; two
    // writers racing between the check and the write both succeed on a server that ignores the
    // condition (AWS S3 honours it; s3rver does not).
    if_server_honours,
};

// What read_range costs.
enum class RangedReads {
    native,    // only the requested bytes (or the chunks holding them) are fetched
    emulated,  // the whole object is fetched and cut (declared by a backend without ranges)
};

// What list() costs, for callers deciding whether to list or remember.
enum class ListingCost {
    cheap,        // a walk of a local directory
    per_request,  // a paged round trip per 1,000 keys, billed by object stores
};

struct StorageFeatures {
    ConditionalCreate conditional_create = ConditionalCreate::atomic;
    RangedReads ranged_reads = RangedReads::native;
    ListingCost listing_cost = ListingCost::cheap;
    // How many requests are worth having in flight when reading many objects or ranges: few for
    // a local disk, many for an object store whose every request waits a round trip. A default;
    // `--io-depth` overrides it.
    unsigned io_depth = 4;
    // The directory on this machine whose files are the objects (key "a/b" is <path>/a/b), or
    // nullopt when the objects live elsewhere (an object store). Set exactly when local_files()
    // is offered.
    std::optional<fs::path> local_path;
};

// What only a storage of local files offers (obtained through Storage::local_files()).
class LocalFiles {
  public:
    virtual ~LocalFiles() = default;
    // Every file and directory under the root whose mode allows more than 0640 / 0750, as
    // "<relative path> is <mode> (expected at most <mode>)".
    virtual Result<std::vector<std::string>> loose_permissions() const = 0;
    // Removes temporary files whose writing process is gone (or that are older than a day).
    virtual Status clean_stale_temporaries() = 0;
};

// An upload an object store holds for a writer that never finished it (a multipart upload whose
// writer crashed or was killed before completing or aborting it): invisible to list() and read(),
// but its parts take space (and are billed) until it is aborted.
struct PendingUpload {
    std::string key;        // the key it would have published
    std::string upload_id;  // the store's name for it
    Timestamp started;
};

// What only an object store with multipart uploads offers (Storage::pending_uploads()).
class PendingUploads {
  public:
    virtual ~PendingUploads() = default;
    // Every upload started under the storage's prefix and not yet completed or aborted, including
    // those other processes are still writing (the caller decides by age which are abandoned).
    virtual Result<std::vector<PendingUpload>> list_pending_uploads() const = 0;
    // Aborts one upload and frees its parts; an upload already gone is not an error.
    virtual Status abort_pending_upload(const PendingUpload& upload) = 0;
};

// Object lock (S3 "Object Lock", WORM): a store that keeps each object version for a retention
// period and under legal holds, refusing to delete it (or to overwrite that version) until then.
enum class RetentionMode {
    governance,  // users with s3:BypassGovernanceRetention may still delete early
    compliance,  // nobody, not even the account's root user, can delete before the date
};
struct RetentionRule {
    RetentionMode mode = RetentionMode::governance;
    std::chrono::seconds period{0};
    // Keys under these prefixes are written without retention (objects rewritten or removed in
    // the normal course of things, such as repository locks).
    std::vector<std::string> exempt_prefixes;
    bool exempt(std::string_view key) const {
        for (const auto& prefix : exempt_prefixes)
            if (key.starts_with(prefix)) return true;
        return false;
    }
};
enum class LegalHold { off, on };

// What only an object store with object lock offers (Storage::object_locking()).
// Contract: once retain_new_objects(rule) is called (before the storage is shared between
// threads), every object written afterwards (single PUT and multipart) carries the rule's mode and
// a retain-until date of its write time plus the period, unless rule.exempt(key);
// remove_if_exists then removes the object's version itself (not just hiding it behind a delete
// marker), and a removal the store refuses because the version is under retention or a legal
// hold is ErrorCode::read_only.
class ObjectLocking {
  public:
    virtual ~ObjectLocking() = default;
    // Whether the bucket was created with object lock enabled (never sends a write).
    virtual Result<bool> bucket_lock_enabled() const = 0;
    virtual void retain_new_objects(RetentionRule rule) = 0;
    // Puts (on) or releases (off) a legal hold on the current version of `key`.
    virtual Status set_legal_hold(const std::string& key, LegalHold hold) = 0;
};

class Storage {
  public:
    virtual ~Storage() = default;

    // Where this storage lives, for messages ("/srv/backup", "s3://bucket/prefix").
    virtual std::string location() const = 0;

    // What this backend guarantees beyond the contract; a wrapper reports its inner storage's.
    virtual StorageFeatures features() const = 0;
    // The local-files side of this storage, or nullptr when it has none (an object store, whose
    // abandoned multipart uploads are pending_uploads()'s). Wrappers pass it through.
    virtual LocalFiles* local_files() { return nullptr; }
    virtual const LocalFiles* local_files() const { return nullptr; }
    // The uploads an object store holds for unfinished writers, or nullptr when a storage has no
    // such thing (posix: its temporaries are local_files()'s). Wrappers pass it through.
    virtual PendingUploads* pending_uploads() { return nullptr; }
    // Object lock, or nullptr when the store has none (posix, s3rver-like servers are detected by
    // ObjectLocking::bucket_lock_enabled). Wrappers pass it through.
    virtual ObjectLocking* object_locking() { return nullptr; }

    virtual Result<std::string> read(const std::string& key) const = 0;
    virtual Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                           std::size_t length) const = 0;
    virtual Result<ObjectInfo> stat(const std::string& key) const = 0;
    virtual Result<std::vector<ObjectInfo>> list(const std::string& prefix) const = 0;

    virtual Status write(const std::string& key, std::string_view data, Overwrite overwrite) = 0;
    virtual Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                         Overwrite overwrite) = 0;
    virtual Status remove_if_exists(const std::string& key) = 0;
};

}  // namespace lifeboat
