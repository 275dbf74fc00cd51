// PosixStorage: a repository in a local directory. Objects are files; publishing is
// write-to-tmp + fsync + rename (Overwrite::allow) or link (Overwrite::never, which fails if the
// name exists) followed by an fsync of the directory. Temporary files live in <root>/tmp and are
// named <pid>-<counter>, so a later process can tell whether their writer is still alive.
// Directories it creates are 0750 and files 0640 whatever the umask (pgBackRest's modes): the
// repository holds a copy of the database, for its owner and group only.
#pragma once

#include <sys/stat.h>

#include <atomic>

#include "storage/storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {

class PosixStorage final : public Storage {
  public:
    explicit PosixStorage(fs::path root);

    std::string location() const override { return m_root.string(); }
    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;
    Status remove_if_exists(const std::string& key) override;

    // Every file and directory under the root whose mode allows more than 0640 / 0750, as
    // "<relative path> is <mode> (expected at most <mode>)".
    Result<std::vector<std::string>> loose_permissions() const;

    // Removes temporary files whose writing process is gone (or that are older than a day).
    Status clean_stale_temporaries();

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
