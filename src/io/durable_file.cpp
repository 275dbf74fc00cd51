#include "io/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace lifeboat {

namespace {

class PosixFileSync final : public FileSync {
  public:
    void start_writeback(int fd, std::uint64_t offset, std::uint64_t length) const override {
        // Only starts the write-out: the worker goes on decoding the next blocks while the
        // device writes these, instead of meeting all the file's dirty pages in fdatasync.
        ::sync_file_range(fd, static_cast<off64_t>(offset), static_cast<off64_t>(length),
                          SYNC_FILE_RANGE_WRITE);
    }

    Status sync_file(int fd, const fs::path& path) const override {
        // fdatasync: the size and allocation of a new file are included, its times are not
        // (nothing reads them back to find the data).
        while (::fdatasync(fd) != 0) {
            if (errno == EINTR) continue;
            return fail(ErrorCode::io, "cannot fsync {}: {}", path.string(), errno_text(errno));
        }
        return {};
    }

    Status sync_directory(int fd, const fs::path& path) const override {
        while (::fsync(fd) != 0) {
            if (errno == EINTR) continue;
            // Some file systems cannot fsync a directory at all; their entries are as durable
            // as they get (PostgreSQL's fsync_fname makes the same exception).
            if (errno == EINVAL) return {};
            return fail(ErrorCode::io, "cannot fsync directory {}: {}", path.string(),
                        errno_text(errno));
        }
        return {};
    }
};

}  // namespace

const FileSync& posix_file_sync() {
    static const PosixFileSync sync;
    return sync;
}

}  // namespace lifeboat
