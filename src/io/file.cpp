#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/thread_buffer.hpp"

namespace lifeboat {

Result<File> File::open(const fs::path& path, OpenMode mode, int permissions) {
    int flags = O_CLOEXEC;
    switch (mode) {
        case OpenMode::read:
            flags |= O_RDONLY;
            break;
        case OpenMode::create_new:
            flags |= O_WRONLY | O_CREAT | O_EXCL;
            break;
        case OpenMode::create_truncate:
            flags |= O_WRONLY | O_CREAT | O_TRUNC;
            break;
        case OpenMode::read_write:
            flags |= O_RDWR;
            break;
    }
    const int fd = ::open(path.c_str(), flags, permissions);
    if (fd < 0) {
        const int err = errno;
        return fail(err == ENOENT ? ErrorCode::not_found : ErrorCode::io, "cannot open {}: {}",
                    path.string(), errno_text(err));
    }
    return File(fd, path);
}

File::File(File&& other) noexcept
    : m_fd(other.m_fd), m_path(std::move(other.m_path)), m_append_offset(other.m_append_offset) {
    other.m_fd = -1;
}

File& File::operator=(File&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = other.m_fd;
        m_path = std::move(other.m_path);
        m_append_offset = other.m_append_offset;
        other.m_fd = -1;
    }
    return *this;
}

File::~File() {
    if (m_fd >= 0) ::close(m_fd);
}

Result<std::size_t> File::read_at(std::uint64_t offset, char* buffer, std::size_t length) const {
    std::size_t done = 0;
    while (done < length) {
        const ssize_t n =
            ::pread(m_fd, buffer + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(ErrorCode::io, "cannot read {}: {}", m_path.string(), errno_text(errno));
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

Result<std::string> File::read_range(std::uint64_t offset, std::size_t length) const {
    // The thread's spare buffer when it has one (util/thread_buffer.hpp), sized without zeroing:
    // the read writes every byte kept.
    std::string out = take_thread_buffer();
    out.resize_and_overwrite(length, [](char*, std::size_t n) { return n; });
    const std::size_t n = LB_TRY(read_at(offset, out.data(), length));
    out.resize(n);
    return out;
}

Status File::write_at(std::uint64_t offset, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(m_fd, data.data() + done, data.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(ErrorCode::io, "cannot write {}: {}", m_path.string(), errno_text(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Status File::append(std::string_view data) {
    LB_CHECK(write_at(m_append_offset, data));
    m_append_offset += data.size();
    return {};
}

Status File::sync() {
    if (::fsync(m_fd) != 0) {
        return fail(ErrorCode::io, "cannot fsync {}: {}", m_path.string(), errno_text(errno));
    }
    return {};
}

void File::advise_sequential() const {
    if (m_fd >= 0) ::posix_fadvise(m_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

void File::advise_random() const {
    if (m_fd >= 0) ::posix_fadvise(m_fd, 0, 0, POSIX_FADV_RANDOM);
}

void File::advise_will_need(std::uint64_t offset, std::uint64_t length) const {
    if (m_fd >= 0) {
        ::posix_fadvise(m_fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                        POSIX_FADV_WILLNEED);
    }
}

Result<std::uint64_t> File::size() const {
    struct stat st {};
    if (::fstat(m_fd, &st) != 0) {
        return fail(ErrorCode::io, "cannot stat {}: {}", m_path.string(), errno_text(errno));
    }
    return static_cast<std::uint64_t>(st.st_size);
}

Status File::close() {
    if (m_fd >= 0 && ::close(m_fd) != 0) {
        m_fd = -1;
        return fail(ErrorCode::io, "cannot close {}: {}", m_path.string(), errno_text(errno));
    }
    m_fd = -1;
    return {};
}

}  // namespace lifeboat
