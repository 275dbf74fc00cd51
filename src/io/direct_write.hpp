// Writes that bypass the page cache (O_DIRECT) where the descriptor, offset and length allow it.
//
// Why: restore writes a whole data directory once and must have it on stable storage before it
// reports success. Through the page cache, every byte is copied into it, written back later and
// waited for in fdatasync; on the machines of docs/performance.md that took twice as long as
// writing the same bytes directly (the device sees large writes as soon as they are made).
//
// Contract of DirectWriteBuffer::write(file, offset, data, sync):
//   - when `file` was opened with O_DIRECT and `offset` and `data.size()` are multiples of
//     k_direct_alignment, the bytes are copied into an aligned buffer of this object and written
//     with O_DIRECT: when it returns, they are in the device (not necessarily past its volatile
//     cache: the file's fdatasync, which the caller still owes, flushes that and the metadata);
//   - otherwise (a file's unaligned tail, a descriptor without O_DIRECT, or a file system that
//     refuses the direct write with EINVAL, after which the descriptor stays buffered), the bytes
//     go through the page cache with O_DIRECT cleared on the descriptor for the call, and
//     `sync.start_writeback` is asked for them.
// An error is ErrorCode::io naming the file. One buffer per thread; it grows to the largest
// block written and is kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "io/durable_file.hpp"
#include "io/file.hpp"
#include "util/error.hpp"

namespace lifeboat {

inline constexpr std::size_t k_direct_alignment = 4096;

class DirectWriteBuffer {
  public:
    Status write(File& file, std::uint64_t offset, std::string_view data, const FileSync& sync);

    std::uint64_t direct_bytes() const { return m_direct_bytes; }
    std::uint64_t buffered_bytes() const { return m_buffered_bytes; }

  private:
    struct Free {
        void operator()(char* p) const;
    };
    Status write_buffered(File& file, std::uint64_t offset, std::string_view data,
                          const FileSync& sync, int flags);

    std::unique_ptr<char, Free> m_data;
    std::size_t m_capacity = 0;
    std::uint64_t m_direct_bytes = 0;
    std::uint64_t m_buffered_bytes = 0;
};

// Opens `name` in directory `dir` for writing with O_DIRECT added to `flags` when the file
// system supports it, without when it refuses (EINVAL: tmpfs, some network file systems).
// The descriptor, or -1 with errno set as openat left it.
int open_for_direct_write(int dir, const char* name, int flags);

}  // namespace lifeboat
