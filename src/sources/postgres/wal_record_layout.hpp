// The PostgreSQL 15 WAL record layout shared by the WAL reader (wal.cpp) and the WAL summary
// parser (wal_summary.cpp): access/xlogrecord.h and the resource managers' headers. Internal to
// sources/postgres.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lifeboat::postgres {

inline constexpr std::size_t k_record_header = 24;  // tot_len, xid, prev, info, rmid, pad, crc
inline constexpr std::uint8_t k_rm_xact = 1;
inline constexpr std::uint8_t k_xact_opmask = 0x70;
inline constexpr std::uint8_t k_block_id_toplevel_xid = 252;
inline constexpr std::uint8_t k_block_id_origin = 253;
inline constexpr std::uint8_t k_block_id_data_long = 254;
inline constexpr std::uint8_t k_block_id_data_short = 255;

}  // namespace lifeboat::postgres
