#include "engine/restore_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "io/file.hpp"
#include "util/parallel.hpp"

namespace lifeboat::engine {

namespace {

Status write_file_entry(const MaterializeOptions& options, const repo::ManifestEntry& entry,
                        repo::BlockReader& reader, std::string& block,
                        std::atomic<std::uint64_t>& bytes_done) {
    const fs::path path = options.target_dir / entry.path;
    File file = LB_TRY(File::open(path, OpenMode::create_new, 0600));
    std::uint64_t offset = 0;
    for (const auto& id : entry.blocks) {
        const auto location = options.index->find(id);
        if (!location) {
            return fail(ErrorCode::corrupt,
                        "backup {}: file {}: block {} is missing from the repository",
                        options.manifest->id, entry.path, id.hex());
        }
        auto status = repo::read_block(*options.storage, *location->pack_id, id,
                                       location->placement, reader, block, *options.hasher);
        if (!status) {
            return std::unexpected(
                status.error().context("backup {}: file {}", options.manifest->id, entry.path));
        }
        LB_CHECK(file.write_at(offset, block));
        offset += block.size();
        bytes_done += block.size();
    }
    if (offset != entry.size) {
        return fail(ErrorCode::corrupt, "backup {}: file {}: restored {} bytes, manifest says {}",
                    options.manifest->id, entry.path, offset, entry.size);
    }
    LB_CHECK(file.close());
    ::chmod(path.c_str(), entry.mode);
    const struct timespec times[2] = {{entry.mtime, entry.mtime_nsec},
                                      {entry.mtime, entry.mtime_nsec}};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
    return {};
}

}  // namespace

Result<MaterializeStats> materialize_backup(const MaterializeOptions& options) {
    const repo::Manifest& manifest = *options.manifest;
    LB_CHECK(ensure_directory(options.target_dir));
    ::chmod(options.target_dir.c_str(), 0700);
    std::vector<const repo::ManifestEntry*> files;
    MaterializeStats stats;
    for (const auto& entry : manifest.entries) {
        const fs::path path = options.target_dir / entry.path;
        switch (entry.type) {
            case repo::EntryType::directory: {
                LB_CHECK(ensure_directory(path));
                ::chmod(path.c_str(), entry.mode ? entry.mode : 0700);
                break;
            }
            case repo::EntryType::symlink: {
                // A tablespace: its contents go to the new location the caller chose.
                const auto oid =
                    static_cast<std::uint32_t>(std::strtoul(path.filename().c_str(), nullptr, 10));
                auto it = options.tablespace_dirs.find(oid);
                if (it == options.tablespace_dirs.end()) {
                    return fail(ErrorCode::internal, "no location for tablespace {}", oid);
                }
                LB_CHECK(ensure_directory(it->second));
                ::chmod(it->second.c_str(), 0700);
                std::error_code ec;
                fs::create_symlink(it->second, path, ec);
                if (ec) {
                    return fail(ErrorCode::io, "cannot link {} to {}: {}", path.string(),
                                it->second.string(), ec.message());
                }
                break;
            }
            case repo::EntryType::file:
                files.push_back(&entry);
                stats.bytes += entry.size;
                break;
        }
    }
    stats.files = files.size();
    std::stable_sort(files.begin(), files.end(),
                     [](const auto* a, const auto* b) { return a->size > b->size; });
    std::atomic<std::uint64_t> bytes_done{0};
    const unsigned jobs = std::max(1u, options.jobs);
    std::vector<repo::BlockReader> readers(jobs);
    std::vector<std::string> buffers(jobs);
    Status written = [&] {
        PeriodicProgress progress(options.progress, "writing files", bytes_done, stats.bytes);
        return parallel_for(files.size(), jobs, [&](std::size_t i, unsigned worker) {
            return write_file_entry(options, *files[i], readers[worker], buffers[worker],
                                    bytes_done);
        });
    }();
    LB_CHECK(written);
    return stats;
}

}  // namespace lifeboat::engine
