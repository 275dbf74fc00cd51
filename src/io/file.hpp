// File: an owned file descriptor with positional, EINTR-safe reads and writes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat {

enum class OpenMode { read, create_new, create_truncate, read_write };

class File {
  public:
    static Result<File> open(const fs::path& path, OpenMode mode, int permissions = 0644);
    // Takes ownership of an open descriptor (e.g. from openat); `path` is for messages.
    static File adopt(int fd, fs::path path) { return File(fd, std::move(path)); }
    File() = default;
    File(File&& other) noexcept;
    File& operator=(File&& other) noexcept;
    ~File();

    // Reads up to `length` bytes at `offset`; fewer only at end of file.
    Result<std::size_t> read_at(std::uint64_t offset, char* buffer, std::size_t length) const;
    Result<std::string> read_range(std::uint64_t offset, std::size_t length) const;
    Status write_at(std::uint64_t offset, std::string_view data);
    Status append(std::string_view data);  // writes at the current end, tracked by this object
    Status sync();
    // Tells the kernel the file will be read sequentially (larger read-ahead). Advisory only.
    void advise_sequential() const;
    // Hint: reads are scattered (no read-ahead beyond what is asked).
    void advise_random() const;
    // Asks the kernel to start reading [offset, offset + length) now, in the background, so the
    // data is in memory when the caller gets to it (overlaps disk reads with computation).
    void advise_will_need(std::uint64_t offset, std::uint64_t length) const;
    Result<std::uint64_t> size() const;
    Status close();

    const fs::path& path() const { return m_path; }
    int descriptor() const { return m_fd; }  // -1 once closed
    std::uint64_t appended() const { return m_append_offset; }

  private:
    File(int fd, fs::path path) : m_fd(fd), m_path(std::move(path)) {}
    int m_fd = -1;
    fs::path m_path;
    std::uint64_t m_append_offset = 0;
};

}  // namespace lifeboat
