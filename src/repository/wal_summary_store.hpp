// Where WAL summaries live in a repository (docs/repository-format.md, "WAL summaries"): one
// object per archived segment, "wal-summaries/<segment name>", kind WSUM, its payload (zstd
// compressed) the encoding sources/postgres/wal_summary.hpp defines. The repository stores and
// returns the payload; it does not interpret it.
//
// A summary is written before its segment is stored, so a segment in the archive without a
// summary means "not summarised" (an older Lifeboat, a failed summary, a copy), never "being
// written". Summaries are advisory: a missing or damaged one makes a backup read more, never
// restore less.
#pragma once

#include <string>
#include <string_view>

#include "storage/storage.hpp"
#include "util/error.hpp"

namespace lifeboat::repo {

inline constexpr std::string_view k_wal_summary_prefix = "wal-summaries/";

std::string wal_summary_key(const std::string& segment_name);

// Stores the summary of `segment_name`; one already there (a repeated push) is kept.
Status store_wal_summary(Storage& storage, const std::string& segment_name,
                         std::string_view payload);

// The payload of the summary of `segment_name`: ErrorCode::not_found when there is none,
// ErrorCode::corrupt when its envelope or checksum is wrong.
Result<std::string> read_wal_summary(const Storage& storage, const std::string& segment_name);

}  // namespace lifeboat::repo
