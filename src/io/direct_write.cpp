#include "io/direct_write.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lifeboat {

void BackgroundWriter::Buffer::Free::operator()(char* p) const {
    std::free(p);
}

int open_for_direct_write(int dir, const char* name, int flags) {
    const int fd = ::openat(dir, name, flags | O_DIRECT);
    if (fd >= 0 || errno != EINVAL) return fd;
    return ::openat(dir, name, flags);
}

BackgroundWriter::BackgroundWriter(const FileSync& sync, unsigned threads, unsigned buffers)
    : m_sync(sync) {
    threads = std::max(1u, threads);
    m_buffers.resize(std::max(threads, buffers));
    for (auto& buffer : m_buffers)
        m_free.push_back(&buffer);
    for (unsigned i = 0; i < threads; ++i)
        m_threads.emplace_back([this] { run(); });
}

BackgroundWriter::~BackgroundWriter() {
    (void)finish();
}

Status BackgroundWriter::submit(std::shared_ptr<File> file, std::uint64_t offset,
                                std::string_view data) {
    Buffer* buffer = nullptr;
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return !m_free.empty() || m_failure; });
        if (m_failure) return std::unexpected(*m_failure);
        buffer = m_free.back();
        m_free.pop_back();
    }
    // Filled outside the lock: the copy is the submitting thread's work, not the writers'.
    if (buffer->capacity < data.size()) {
        void* memory = nullptr;
        const std::size_t capacity = std::max(data.size(), k_direct_alignment);
        if (::posix_memalign(&memory, k_direct_alignment, capacity) != 0) {
            std::lock_guard lock(m_mutex);
            m_free.push_back(buffer);
            m_changed.notify_all();
            return fail(ErrorCode::io, "cannot allocate {} bytes to write {}", data.size(),
                        file->path().string());
        }
        buffer->data.reset(static_cast<char*>(memory));
        buffer->capacity = capacity;
    }
    std::memcpy(buffer->data.get(), data.data(), data.size());
    buffer->size = data.size();
    std::lock_guard lock(m_mutex);
    m_queue.push_back({std::move(file), offset, buffer});
    ++m_in_flight;
    m_changed.notify_all();
    return {};
}

void BackgroundWriter::run() {
    for (;;) {
        Job job;
        bool write = true;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [&] { return !m_queue.empty() || m_closing; });
            if (m_queue.empty()) return;
            job = std::move(m_queue.front());
            m_queue.pop_front();
            write = !m_failure;
        }
        const Status status = write ? this->write(job) : Status{};
        job.file.reset();  // closes it after its last write
        std::lock_guard lock(m_mutex);
        if (!status && !m_failure) m_failure = status.error();
        m_free.push_back(job.buffer);
        --m_in_flight;
        m_changed.notify_all();
    }
}

Status BackgroundWriter::write(const Job& job) {
    File& file = *job.file;
    const std::string_view data(job.buffer->data.get(), job.buffer->size);
    const int flags = ::fcntl(file.descriptor(), F_GETFL);
    const bool aligned =
        job.offset % k_direct_alignment == 0 && data.size() % k_direct_alignment == 0;
    if (flags < 0 || (flags & O_DIRECT) == 0 || !aligned || data.empty())
        return write_buffered(file, job.offset, data, flags);
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(file.descriptor(), data.data() + done, data.size() - done,
                                   static_cast<off_t>(job.offset + done));
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
            return write_buffered(file, job.offset, data, flags & ~O_DIRECT);
        }
        if (n == 0) errno = EIO;
        return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(), errno_text(errno));
    }
    std::lock_guard lock(m_mutex);
    m_direct_bytes += data.size();
    return {};
}

Status BackgroundWriter::write_buffered(File& file, std::uint64_t offset, std::string_view data,
                                        int flags) {
    // Writers share descriptors: O_DIRECT is cleared, the bytes written and the flag set again
    // under the lock, so no two writers toggle it at once. A direct write another writer makes
    // meanwhile on the same descriptor goes through the page cache: the same bytes, flushed by
    // the same fdatasync, only counted as direct.
    const bool direct = flags >= 0 && (flags & O_DIRECT) != 0;
    std::unique_lock lock(m_mutex, std::defer_lock);
    if (direct) {
        lock.lock();
        if (::fcntl(file.descriptor(), F_SETFL, flags & ~O_DIRECT) != 0)
            return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(),
                        errno_text(errno));
    }
    const Status written = file.write_at(offset, data);
    if (direct && ::fcntl(file.descriptor(), F_SETFL, flags) != 0 && written)
        return fail(ErrorCode::io, "cannot write {}: {}", file.path().string(), errno_text(errno));
    if (lock.owns_lock()) lock.unlock();
    LB_CHECK(written);
    m_sync.start_writeback(file.descriptor(), offset, data.size());
    std::lock_guard counted(m_mutex);
    m_buffered_bytes += data.size();
    return {};
}

Status BackgroundWriter::finish() {
    {
        std::unique_lock lock(m_mutex);
        if (m_closing && m_threads.empty())
            return m_failure ? Status(std::unexpected(*m_failure)) : Status{};
        m_changed.wait(lock, [&] { return m_in_flight == 0; });
        m_closing = true;
        m_changed.notify_all();
    }
    for (auto& thread : m_threads)
        thread.join();
    m_threads.clear();
    if (m_failure) return std::unexpected(*m_failure);
    return {};
}

std::uint64_t BackgroundWriter::direct_bytes() const {
    std::lock_guard lock(m_mutex);
    return m_direct_bytes;
}

std::uint64_t BackgroundWriter::buffered_bytes() const {
    std::lock_guard lock(m_mutex);
    return m_buffered_bytes;
}

}  // namespace lifeboat
