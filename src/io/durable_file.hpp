// FileSync: how a writer makes files and directories durable (on stable storage), behind one
// small interface so tests can count the calls per path or inject a failure, as RocksDB's
// backup tests do with a file-system wrapper.
//
// Contract, for a file written through a descriptor:
//   - start_writeback(fd, offset, length) as ranges land: asks the kernel to begin writing them
//     out now, without waiting, so that the final sync_file finds little left to do. Advisory:
//     a failure here is not reported (sync_file reports it).
//   - sync_file(fd, path) once the file is complete: returns only when its data, and the metadata
//     needed to read it back (size, allocation), are on stable storage; any write-back error of
//     the file since it was opened fails it (ErrorCode::io). Modification times are not included.
//   - sync_directory(fd, path) after every entry of the directory was created: its entries
//     (names of files, directories, links) are on stable storage.
// A file is durable under its name only when both it and its directory are synced.
// Every member is const and may be called from several threads at once.
#pragma once

#include <cstdint>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat {

class FileSync {
  public:
    virtual ~FileSync() = default;
    virtual void start_writeback(int fd, std::uint64_t offset, std::uint64_t length) const = 0;
    virtual Status sync_file(int fd, const fs::path& path) const = 0;
    virtual Status sync_directory(int fd, const fs::path& path) const = 0;
};

// The kernel's: sync_file_range(SYNC_FILE_RANGE_WRITE), fdatasync, fsync. Retries EINTR; a
// directory fsync the file system does not support (EINVAL) counts as done, as PostgreSQL does.
const FileSync& posix_file_sync();

}  // namespace lifeboat
