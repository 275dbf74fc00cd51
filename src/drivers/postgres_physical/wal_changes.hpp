// What changed in a cluster between two backups, from the WAL summaries in the repository
// (sources/postgres/wal_summary.hpp): the basis of incrementals that read only changed blocks.
#pragma once

#include <string>

#include "repository/manifest.hpp"
#include "source/base_backup.hpp"
#include "sources/postgres/wal.hpp"
#include "sources/postgres/wal_summary.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres_physical {

// The union of the summaries of every WAL segment from the one holding `previous`'s start up to
// the one before `start` (stored by wal-push), plus the records of the segment holding `start`
// that precede it, read from `pgdata`/pg_wal (that segment is still being written, so it has no
// stored summary yet). Segments are whole: records a little before `previous`'s start are
// included, which only makes the backup read more.
//
// The error (a sentence for `backup --json`'s fallback_reason) when any part is missing: another
// timeline, a segment without a summary or with a damaged or incomplete one, the live segment
// unreadable. The caller then falls back to timestamps for every file.
std::expected<postgres::WalSummary, std::string> changes_since(
    const repo::Manifest& previous, const std::string& start_lsn, std::uint32_t timeline,
    std::uint64_t segment_size, const fs::path& pgdata, const source::ContentSink& sink);

}  // namespace lifeboat::postgres_physical
