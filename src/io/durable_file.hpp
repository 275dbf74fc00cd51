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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "io/file.hpp"
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

// Gathers the ranges a writer writes into contiguous runs and starts their write-out
// (FileSync::start_writeback) once per run: when the next range is of another descriptor or not
// adjacent, when the run reaches `max_run` bytes, and at start(). One per writing thread; call
// start() before the descriptor is closed.
class WritebackRun {
  public:
    WritebackRun(const FileSync& sync, std::uint64_t max_run) : m_sync(sync), m_max_run(max_run) {}
    // `length` bytes were written at `offset` of `fd`.
    void wrote(int fd, std::uint64_t offset, std::uint64_t length);
    // Starts the write-out of what is gathered.
    void start();

  private:
    const FileSync& m_sync;
    std::uint64_t m_max_run;
    int m_fd = -1;
    std::uint64_t m_begin = 0;
    std::uint64_t m_end = 0;
};

// Flushes complete files on threads of its own, then closes them. Many flushes in flight at
// once let a journaling file system commit many files in one journal write (ext4, xfs): on the
// machine of docs/performance.md 1000 small files took 0.48 s to fdatasync from 2 threads,
// 0.05 s from 16. The writers hand a file over and go on with the next one.
class BackgroundFlusher {
  public:
    // `max_pending`: files handed over but not flushed yet; submit waits beyond it (bounds the
    // open descriptors).
    BackgroundFlusher(const FileSync& sync, unsigned threads, std::size_t max_pending);
    ~BackgroundFlusher();  // finish(), ignoring its result
    BackgroundFlusher(const BackgroundFlusher&) = delete;
    BackgroundFlusher& operator=(const BackgroundFlusher&) = delete;

    // Takes a complete file; after the first failure, files are closed without flushing.
    void submit(File file);
    // Waits until every submitted file is flushed and closed; the first failure (ErrorCode::io,
    // naming the file) if any. Call once.
    Status finish();

  private:
    void run();

    const FileSync& m_sync;
    std::size_t m_max_pending;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<File> m_queue;
    std::size_t m_in_flight = 0;  // queued or being flushed
    bool m_closing = false;
    std::optional<Error> m_failure;
    std::vector<std::thread> m_threads;
};

}  // namespace lifeboat
