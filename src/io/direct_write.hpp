// Writing a restored file's blocks: past the page cache (O_DIRECT) where the descriptor, offset
// and length allow it, on threads of their own, so the threads that decode blocks never wait
// for the device.
//
// Why: restore writes a whole data directory once and must have it on stable storage before it
// reports success. Through the page cache every byte is copied into it, written back later and
// waited for in fdatasync, and the cache fills with pages nobody reads again; written directly,
// the device sees large writes as soon as they are made. A direct write returns only once the
// device has the data, hence the writer threads (docs/performance.md, "Durable restore").
//
// Contract of BackgroundWriter:
//   - submit(file, offset, data) copies `data` into one of a fixed set of aligned buffers
//     (waiting for a free one: memory is bounded by the set) and queues the write; `file` stays
//     open until its last queued write is done. After a failure, submit returns that failure
//     and queues nothing more.
//   - A write goes past the page cache when `file` was opened with O_DIRECT and `offset` and
//     `data.size()` are multiples of k_direct_alignment: when it is done the bytes are in the
//     device, not necessarily past its volatile cache (the file's fdatasync, which the caller
//     still owes, flushes that and the metadata). Otherwise (a file's unaligned tail, a
//     descriptor without O_DIRECT, or a file system refusing the direct write with EINVAL, after
//     which that descriptor stays buffered) it goes through the page cache, with O_DIRECT
//     cleared on the descriptor for the call, and `sync.start_writeback` is asked for it.
//   - finish() waits for every queued write and returns the first failure (ErrorCode::io,
//     naming the file); call it before flushing or closing what was written. The destructor
//     calls it, ignoring the result.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "io/durable_file.hpp"
#include "io/file.hpp"
#include "util/error.hpp"

namespace lifeboat {

inline constexpr std::size_t k_direct_alignment = 4096;

class BackgroundWriter {
  public:
    // `threads` writer threads (at least 1), `buffers` aligned buffers (at least `threads`).
    BackgroundWriter(const FileSync& sync, unsigned threads, unsigned buffers);
    ~BackgroundWriter();
    BackgroundWriter(const BackgroundWriter&) = delete;
    BackgroundWriter& operator=(const BackgroundWriter&) = delete;

    Status submit(std::shared_ptr<File> file, std::uint64_t offset, std::string_view data);
    Status finish();

    std::uint64_t direct_bytes() const;    // written past the page cache
    std::uint64_t buffered_bytes() const;  // written through it

  private:
    struct Buffer {
        struct Free {
            void operator()(char* p) const;
        };
        std::unique_ptr<char, Free> data;
        std::size_t capacity = 0;
        std::size_t size = 0;
    };
    struct Job {
        std::shared_ptr<File> file;
        std::uint64_t offset = 0;
        Buffer* buffer = nullptr;
    };

    void run();
    Status write(const Job& job);
    Status write_buffered(File& file, std::uint64_t offset, std::string_view data, int flags);

    const FileSync& m_sync;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<Buffer> m_buffers;
    std::vector<Buffer*> m_free;
    std::deque<Job> m_queue;
    std::size_t m_in_flight = 0;  // queued or being written
    bool m_closing = false;
    std::optional<Error> m_failure;
    std::uint64_t m_direct_bytes = 0;
    std::uint64_t m_buffered_bytes = 0;
    std::vector<std::thread> m_threads;
};

// Opens `name` in directory `dir` for writing with O_DIRECT added to `flags` when the file
// system supports it, without when it refuses (EINVAL: some network or FUSE file systems).
// The descriptor, or -1 with errno set as openat left it.
int open_for_direct_write(int dir, const char* name, int flags);

}  // namespace lifeboat
