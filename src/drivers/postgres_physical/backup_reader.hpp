// Reads one range of one data file into the block writer, checking page checksums of relation
// files as it goes (pages newer than the backup start are skipped: WAL replay rewrites them).
#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "repository/manifest.hpp"
#include "source/base_backup.hpp"
#include "sources/postgres/data_directory.hpp"

namespace lifeboat::postgres_physical {

// How a range is read:
// - sequential: with the kernel's read-ahead, which may read past the range's end (the next
//   range of the same file, or the file's end, follows);
// - scattered: without it, one block at a time (ScatteredReadAhead asks for the ranges ahead);
// - bounded: blocks taken from the previous backup follow the range, and reading them would be
//   wasted (the kernel's read-ahead, twice read_ahead_kb with sequential advice, runs up to tens
//   of MiB ahead): with the kernel's read-ahead until k_bounded_tail before the end, then
//   without it, the rest of the range asked for at once.
enum class ReadPattern { sequential, scattered, bounded };

// The kernel reads at most two sequential windows ahead of the reader, each twice read_ahead_kb
// with sequential advice: switching this far before the end leaves nothing past it read on a
// disk with read_ahead_kb up to 8192 (a larger one may still read some of what follows).
inline constexpr std::uint64_t k_bounded_tail = 32ull * 1024 * 1024;

struct ChunkResult {
    std::vector<repo::BlockId> blocks;
    std::uint64_t bytes = 0;  // bytes read (less than asked when the file shrank)
    bool vanished = false;    // the file no longer exists
    // The newest page LSN among the pages read (relation files only): a page at or after the
    // backup's start changed while it was being backed up.
    std::uint64_t newest_page_lsn = 0;
};

class FileReader {
  public:
    FileReader(source::ContentSink& sink, std::uint32_t block_size, bool verify_pages,
               std::uint64_t start_lsn, std::atomic<std::uint64_t>& bytes_done)
        : m_sink(sink),
          m_block_size(block_size),
          m_verify_pages(verify_pages),
          m_start_lsn(start_lsn),
          m_bytes_done(bytes_done) {}

    // Reads [begin, end) of the file (to its end when `end` is nullopt); `begin` must be a
    // multiple of the block size. Checksum failures are appended to `failures`.
    // `pattern`: see ReadPattern (bounded needs `end`).
    Result<ChunkResult> read(const postgres::DataEntry& entry, std::uint64_t begin,
                             std::optional<std::uint64_t> end, unsigned worker,
                             std::vector<repo::PageChecksumFailure>& failures,
                             ReadPattern pattern = ReadPattern::sequential);

  private:
    source::ContentSink& m_sink;
    std::uint32_t m_block_size;
    bool m_verify_pages;
    std::uint64_t m_start_lsn;
    std::atomic<std::uint64_t>& m_bytes_done;
};

}  // namespace lifeboat::postgres_physical
