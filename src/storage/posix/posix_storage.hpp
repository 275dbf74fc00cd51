// PosixStorage: a repository in a local directory. Objects are files; publishing is
// write-to-tmp + fsync + rename (Overwrite::allow) or link (Overwrite::never, which fails if the
// name exists) followed by an fsync of the directory. Temporary files live in <root>/tmp and are
// named <pid>-<counter>, so a later process can tell whether their writer is still alive.
// Directories it creates are 0750 and files 0640 whatever the umask (pgBackRest's modes): the
// repository holds a copy of the database, for its owner and group only.
//
// Features: create-if-absent is atomic (link), ranged reads are native (pread), listing is a
// directory walk, and the objects are local files, so it offers LocalFiles (permission scan,
// cleaning of temporaries).
#pragma once

#include <sys/stat.h>

#include <atomic>

#include "storage/storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {

class PosixStorage final : public Storage, public LocalFiles {
  public:
    explicit PosixStorage(fs::path root);

    std::string location() const override { return m_root.string(); }
    StorageFeatures features() const override;
    LocalFiles* local_files() override { return this; }
    const LocalFiles* local_files() const override { return this; }
    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;
    Status remove_if_exists(const std::string& key) override;

    Result<std::vector<std::string>> loose_permissions() const override;
    Status clean_stale_temporaries() override;

    const fs::path& root() const { return m_root; }

  private:
    friend class PosixUpload;
    Result<fs::path> path_of(const std::string& key) const;
    Result<fs::path> object_path(const std::string& key, struct stat& st) const;
    fs::path new_temporary_path();
    Status publish(const fs::path& temporary, const std::string& key, Overwrite overwrite);

    fs::path m_root;
    std::atomic<std::uint64_t> m_counter{0};
};

}  // namespace lifeboat
