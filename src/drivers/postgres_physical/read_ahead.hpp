// Read-ahead for the scattered reads of an incremental planned from WAL summaries.
//
// Those reads are single blocks or short runs spread over large files, read one at a time by
// each worker: with two workers the disk sees two requests at once, and a virtual or network
// disk does far better with more. As a worker starts chunk i it asks the kernel
// (POSIX_FADV_WILLNEED) to start reading the scattered chunks that follow, up to `window` bytes
// of them, each exactly its own range (nothing the plan skips is read), each asked for once.
// Advisory only: a chunk whose file cannot be opened is left to the worker that reads it, which
// reports the error. The bytes read are the same; only when they are read changes.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "drivers/postgres_physical/backup_plan.hpp"
#include "io/file.hpp"

namespace lifeboat::postgres_physical {

inline constexpr std::uint64_t k_scattered_read_ahead = 8ull * 1024 * 1024;

class ScatteredReadAhead {
  public:
    ScatteredReadAhead(const BackupPlan& plan, const postgres::DataDirectoryScan& scan,
                       unsigned workers, std::uint64_t window = k_scattered_read_ahead);

    // Called by `worker` as it starts chunk `index` (chunks are started in increasing order).
    void started(std::size_t index, unsigned worker);

    // How many chunks have been asked for so far (for tests).
    std::size_t advised() const { return m_advised_count.load(); }

  private:
    struct OpenFile {
        std::size_t entry = 0;
        std::optional<File> file;
    };

    void advise(std::size_t index, OpenFile& cache);

    const BackupPlan& m_plan;
    const postgres::DataDirectoryScan& m_scan;
    std::uint64_t m_window;
    // m_bytes_before[i]: bytes of scattered chunks before chunk i.
    std::vector<std::uint64_t> m_bytes_before;
    std::atomic<std::size_t> m_next{0};  // chunks below this one have been dealt with
    std::atomic<std::size_t> m_advised_count{0};
    std::vector<OpenFile> m_files;  // per worker: the last file advised
};

}  // namespace lifeboat::postgres_physical
