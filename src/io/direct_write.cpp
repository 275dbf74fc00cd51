#include "io/direct_write.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lifeboat {

void DirectWriteBuffer::Free::operator()(char* p) const {
    std::free(p);
}

int open_for_direct_write(int dir, const char* name, int flags) {
    const int fd = ::openat(dir, name, flags | O_DIRECT);
    if (fd >= 0 || errno != EINVAL) return fd;
    return ::openat(dir, name, flags);
}

Status DirectWriteBuffer::write(File& file, std::uint64_t offset, std::string_view data,
                                const FileSync& sync) {
    const int flags = ::fcntl(file.descriptor(), F_GETFL);
    const bool aligned = offset % k_direct_alignment == 0 && data.size() % k_direct_alignment == 0;
    if (flags < 0 || (flags & O_DIRECT) == 0 || !aligned || data.empty())
        return write_buffered(file, offset, data, sync, flags);
    if (m_capacity < data.size()) {
        void* memory = nullptr;
        if (::posix_memalign(&memory, k_direct_alignment, data.size()) != 0)
            return fail(ErrorCode::io, "cannot allocate {} bytes to write {}", data.size(),
                        file.path().string());
        m_data.reset(static_cast<char*>(memory));
        m_capacity = data.size();
    }
    std::memcpy(m_data.get(), data.data(), data.size());
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(file.descriptor(), m_data.get() + done, data.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EINVAL && done == 0) {
            // The file system wants another alignment, or no direct writes for this file.
            if (::fcntl(file.descriptor(), F_SETFL, flags & ~O_DIRECT) != 0)
                return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(),
                            errno_text(errno));
            return write_buffered(file, offset, data, sync, flags & ~O_DIRECT);
        }
        if (n == 0) errno = EIO;
        return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(), errno_text(errno));
    }
    m_direct_bytes += data.size();
    return {};
}

Status DirectWriteBuffer::write_buffered(File& file, std::uint64_t offset, std::string_view data,
                                         const FileSync& sync, int flags) {
    const bool direct = flags >= 0 && (flags & O_DIRECT) != 0;
    if (direct && ::fcntl(file.descriptor(), F_SETFL, flags & ~O_DIRECT) != 0)
        return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(), errno_text(errno));
    LB_CHECK(file.write_at(offset, data));
    sync.start_writeback(file.descriptor(), offset, data.size());
    if (direct && ::fcntl(file.descriptor(), F_SETFL, flags) != 0)
        return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(), errno_text(errno));
    m_buffered_bytes += data.size();
    return {};
}

}  // namespace lifeboat
