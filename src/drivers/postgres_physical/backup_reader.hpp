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

enum class ReadPattern { sequential, scattered };

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
    // `pattern` scattered: the file is read block by block (no kernel read-ahead: the planned
    // ranges are asked for ahead by ScatteredReadAhead).
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
