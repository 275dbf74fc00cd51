#include "io/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

void WritebackRun::wrote(int fd, std::uint64_t offset, std::uint64_t length) {
    if (fd != m_fd || offset != m_end) {
        start();
        m_fd = fd;
        m_begin = offset;
    }
    m_end = offset + length;
    if (m_end - m_begin >= m_max_run) start();
}

void WritebackRun::start() {
    if (m_fd >= 0 && m_end > m_begin) m_sync.start_writeback(m_fd, m_begin, m_end - m_begin);
    m_begin = m_end;
}

BackgroundFlusher::BackgroundFlusher(const FileSync& sync, unsigned threads,
                                     std::size_t max_pending)
    : m_sync(sync), m_max_pending(std::max<std::size_t>(1, max_pending)) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
        m_threads.emplace_back([this] { run(); });
}

BackgroundFlusher::~BackgroundFlusher() {
    (void)finish();
}

void BackgroundFlusher::submit(File file) {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_in_flight < m_max_pending; });
    m_queue.push_back(std::move(file));
    ++m_in_flight;
    m_changed.notify_all();
}

void BackgroundFlusher::run() {
    for (;;) {
        File file;
        bool flush = true;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [&] { return !m_queue.empty() || m_closing; });
            if (m_queue.empty()) return;
            file = std::move(m_queue.front());
            m_queue.pop_front();
            flush = !m_failure;
        }
        Status status = flush ? m_sync.sync_file(file.descriptor(), file.path()) : Status{};
        if (status) status = file.close();
        std::lock_guard lock(m_mutex);
        if (!status && !m_failure) m_failure = status.error();
        --m_in_flight;
        m_changed.notify_all();
    }
}

Status BackgroundFlusher::finish() {
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

}  // namespace lifeboat
