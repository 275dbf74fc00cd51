#include "sources/postgres/page_checksum.hpp"

#include <array>
#include <cstring>

namespace lifeboat::postgres {

namespace {

// Page header layout (PageHeaderData): pd_lsn at 0 (two uint32: xlogid, xrecoff),
// pd_checksum at 8, pd_flags at 10, pd_lower at 12, pd_upper at 14.
constexpr std::size_t k_checksum_offset = 8;
constexpr std::size_t k_upper_offset = 14;

// The algorithm hashes the page as 32 interleaved lanes of 32-bit words, each lane a variant of
// FNV-1a seeded with its own offset basis; the seeds are fixed by the on-disk format.
constexpr std::size_t k_lanes = 32;
constexpr std::size_t k_rows = k_page_size / (sizeof(std::uint32_t) * k_lanes);
constexpr std::uint32_t k_fnv_prime = 16777619u;
constexpr std::array<std::uint32_t, k_lanes> k_lane_seeds = {
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
    0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
    0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
    0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
};

// One mixing step: FNV-1a on a 32-bit word, plus a right-shifted xor so high input bits reach
// the low output bits.
constexpr std::uint32_t mix(std::uint32_t state, std::uint32_t word) {
    const std::uint32_t x = state ^ word;
    return (x * k_fnv_prime) ^ (x >> 17);
}

std::uint16_t load_u16(const unsigned char* p) {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::uint32_t load_u32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

std::uint16_t page_checksum(const unsigned char* page, std::uint32_t block_number) {
    // Aligned private copy with the checksum field zeroed: the caller's buffer stays const and
    // may be unaligned. 8 KiB on the stack is cheap next to the hashing itself.
    alignas(64) std::uint32_t words[k_rows][k_lanes];
    std::memcpy(words, page, k_page_size);
    std::memset(reinterpret_cast<unsigned char*>(words) + k_checksum_offset, 0, 2);

    std::array<std::uint32_t, k_lanes> lanes = k_lane_seeds;
    for (std::size_t row = 0; row < k_rows; ++row) {
        for (std::size_t lane = 0; lane < k_lanes; ++lane) {
            lanes[lane] = mix(lanes[lane], words[row][lane]);
        }
    }
    // Two extra rounds of zeros so the last words are fully mixed.
    for (int round = 0; round < 2; ++round) {
        for (auto& state : lanes)
            state = mix(state, 0);
    }
    std::uint32_t folded = 0;
    for (const auto state : lanes)
        folded ^= state;

    folded ^= block_number;  // a page copied to the wrong place fails verification
    return static_cast<std::uint16_t>(folded % 65535u + 1u);
}

std::uint64_t page_lsn(const unsigned char* page) {
    return (static_cast<std::uint64_t>(load_u32(page)) << 32) | load_u32(page + 4);
}

std::uint16_t stored_page_checksum(const unsigned char* page) {
    return load_u16(page + k_checksum_offset);
}

PageVerdict verify_page(const unsigned char* page, std::uint32_t block_number,
                        std::uint64_t backup_start_lsn) {
    // An all-zero page (extended but never written) has pd_upper == 0 too.
    if (load_u16(page + k_upper_offset) == 0) return PageVerdict::new_page;
    if (page_lsn(page) >= backup_start_lsn) return PageVerdict::skipped_recent;
    return page_checksum(page, block_number) == stored_page_checksum(page)
               ? PageVerdict::ok
               : PageVerdict::bad_checksum;
}

}  // namespace lifeboat::postgres
