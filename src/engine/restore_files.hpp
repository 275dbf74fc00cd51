// Writes the files of one backup into a directory, in parallel, checking every block against its
// id as it is decoded (a damaged block fails the restore instead of producing a wrong file).
//
// Nothing a manifest says can make it write outside the target directory and the tablespace
// directories the caller chose: the manifest is refused first (repo::check_entries_safe: ErrorCode
// corrupt, nothing written) when any entry is unsafe, and every path is then resolved one
// component at a time from the directory it belongs to without following links (openat with
// O_NOFOLLOW), so even a link created meanwhile is never written through. Tablespace links
// (pg_tblspc/<oid>) point where the caller chose, whatever the manifest says; other links are
// recreated as recorded, and nothing is written below them. Modes are masked: directories
// (mode & 0750) | 0700, files (mode & 0640) | 0600: never setuid, setgid, sticky, nor writable or
// readable by others. The target directory itself is made 0700 (PostgreSQL requires it).
//
// Durable when it returns: write-back of every file starts as its blocks land, each complete
// file is flushed (fdatasync) by a pool of flushing threads while the workers write the next
// ones, then every directory that received an entry is fsynced, and so are the parents of the
// target and tablespace directories. A failed flush fails the whole call (ErrorCode::io, naming the
// file): nothing is reported written that is not on stable storage.
#pragma once

#include <atomic>
#include <map>

#include "engine/progress.hpp"
#include "io/durable_file.hpp"
#include "repository/block.hpp"
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
    unsigned io_depth = 0;  // ranged reads in flight; 0: the storage's default
    ProgressFn progress;
    KeepGoingFn keep_going;               // asked before each ranged read of a pack
    const FileSync* file_sync = nullptr;  // nullptr: posix_file_sync()
    // true: blocks are written past the page cache where the file system allows it, by writer
    // threads (io/direct_write.hpp), into files allocated at creation; false: through it by the
    // decoding workers, with write-back started as they land.
    bool direct_writes = false;
    // Each time this many more bytes of one file are written (or handed to the writers, with
    // direct writes), that file is flushed on a thread of its own while the workers write on, so
    // the storage's write cache empties during the restore instead of at its end (on the machine of
    // docs/performance.md the last flush of 1.5 GiB waited 0.7 s for it; with flushes every 32 MiB,
    // 0.05 s). 0: a file is flushed only once complete. A failed flush fails the restore either
    // way.
    std::uint64_t flush_every = 32ull * 1024 * 1024;
    // How each block read is checked (repository/block.hpp).
    repo::BlockCheck block_check = repo::BlockCheck::id;
};

struct MaterializeStats {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::uint64_t requests = 0;       // ranged reads of packs
    std::uint64_t bytes_fetched = 0;  // by them
    std::uint64_t direct_bytes = 0;   // of `bytes`, written past the page cache
    repo::BlockChecks checked;        // BlockWriteStats
    unsigned io_depth = 0;            // used
    std::uint64_t synced_directories = 0;
    // Of the call's time, how much went to waiting for the disk once every file was written:
    // the flushes still running then, and the directories' fsync pass.
    double sync_seconds = 0;
};

Result<MaterializeStats> materialize_backup(const MaterializeOptions& options);

// The modes restore gives directories and files whatever the manifest records.
std::uint32_t restored_directory_mode(std::uint32_t recorded);
std::uint32_t restored_file_mode(std::uint32_t recorded);

}  // namespace lifeboat::engine
