// Storage: the interface every repository backend implements (posix now; S3 and wrappers such as
// retry and fault injection later). Keys are '/'-separated relative names ("data/ab/abcd...").
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
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
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

class Storage {
  public:
    virtual ~Storage() = default;

    // Where this storage lives, for messages ("/srv/backup", "s3://bucket/prefix").
    virtual std::string location() const = 0;

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
