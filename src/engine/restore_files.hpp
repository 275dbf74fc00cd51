// Writes the files of one backup into a directory, in parallel, checking every block against its
// id as it is decoded (a damaged block fails the restore instead of producing a wrong file).
#pragma once

#include <atomic>
#include <map>

#include "engine/progress.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "util/fs.hpp"

namespace lifeboat::engine {

struct MaterializeOptions {
    const repo::Manifest* manifest = nullptr;
    const repo::BlockIndex* index = nullptr;
    const Storage* storage = nullptr;
    const repo::BlockHasher* hasher = nullptr;
    fs::path target_dir;
    std::map<std::uint32_t, fs::path> tablespace_dirs;  // every tablespace oid -> new location
    unsigned jobs = 1;
    ProgressFn progress;
};

struct MaterializeStats {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
};

Result<MaterializeStats> materialize_backup(const MaterializeOptions& options);

}  // namespace lifeboat::engine
