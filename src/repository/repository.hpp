// Repository: an opened, checked repository (its config object read and understood) over one
// Storage. Every command except repo-init goes through Repository::open, which refuses anything
// that is not a Lifeboat repository with ErrorCode::not_a_repository.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"
#include "util/time.hpp"

namespace lifeboat::repo {

struct RepositoryConfig {
    std::string repository_id;  // 32 hex digits, random
    Timestamp created;
    std::uint32_t block_size = 256 * 1024;
    std::uint64_t pack_target_size = 32ull * 1024 * 1024;
    int compression_level = 3;
};

// A storage backend for a repository location: a local path for now ("s3://…" later).
Result<std::unique_ptr<Storage>> open_storage(const std::string& location);

class Repository {
  public:
    static Result<Repository> open(const std::string& location);
    // Creates a repository at `location`: the directory must be missing or empty.
    static Result<Repository> init(const std::string& location, RepositoryConfig config);

    Storage& storage() { return *m_storage; }
    const Storage& storage() const { return *m_storage; }
    const RepositoryConfig& config() const { return m_config; }
    std::string location() const { return m_storage->location(); }

    // Removes temporary objects left by dead writers (call before writing).
    Status clean_stale_temporaries();

  private:
    Repository(std::unique_ptr<Storage> storage, RepositoryConfig config)
        : m_storage(std::move(storage)), m_config(std::move(config)) {}
    std::unique_ptr<Storage> m_storage;
    RepositoryConfig m_config;
};

}  // namespace lifeboat::repo
