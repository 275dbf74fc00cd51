// PostgreSQL data page checksums (initdb --data-checksums), for verifying relation files while
// they are copied into a backup. Pages are BLCKSZ = 8192 bytes, in the server's native byte order
// (Lifeboat runs on the same machine, so native order is the right one).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lifeboat::postgres {

inline constexpr std::size_t k_page_size = 8192;
// Blocks per 1 GiB relation segment file: block number of page i of segment file N is
// N * k_blocks_per_segment + i.
inline constexpr std::uint32_t k_blocks_per_segment = 131072;

// The checksum PostgreSQL stores in pd_checksum for `page` (k_page_size bytes, any alignment)
// at `block_number` within its relation fork. The stored pd_checksum field is ignored (taken as
// zero) during the computation; the page is not modified. Never returns 0.
std::uint16_t page_checksum(const unsigned char* page, std::uint32_t block_number);

// pd_lsn of the page: the WAL position of the last change (xlogid << 32 | xrecoff).
std::uint64_t page_lsn(const unsigned char* page);

// The stored pd_checksum field.
std::uint16_t stored_page_checksum(const unsigned char* page);

enum class PageVerdict {
    ok,              // checksum matches
    new_page,        // never initialised (all zeros, or pd_upper == 0): valid, nothing to check
    skipped_recent,  // pd_lsn >= backup start: WAL replay rewrites it, it may legitimately be torn
    bad_checksum,    // checksum mismatch: corruption (or a torn page written before backup start)
};

// The verdict pg_basebackup would give `page` at `block_number` for a backup that started at
// WAL position `backup_start_lsn`.
PageVerdict verify_page(const unsigned char* page, std::uint32_t block_number,
                        std::uint64_t backup_start_lsn);

}  // namespace lifeboat::postgres
