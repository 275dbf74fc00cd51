// What changed in a cluster between two backups, from the WAL summaries in the repository
// (sources/postgres/wal_summary.hpp): the basis of incrementals that read only changed blocks.
#pragma once

#include <string>

#include "repository/manifest.hpp"
#include "source/base_backup.hpp"
#include "sources/postgres/wal.hpp"
#include "sources/postgres/wal_summary.hpp"
#include "util/fs.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::postgres_physical {

// The union of the summaries of every WAL segment from the one holding `previous`'s start up to
// the one before `start` (stored by wal-push), plus the records of the segment holding `start`
// that precede it, read from `pgdata`/pg_wal (that segment is still being written, so it has no
// stored summary yet). Segments are whole: records a little before `previous`'s start are
// included, which only makes the backup read more.
//
// The error (a sentence for `backup --json`'s fallback_reason) when any part is missing: another
// timeline, a segment without a summary or with a damaged or incomplete one, the live segment
// unreadable. The caller then falls back to timestamps for every file. A segment not archived yet
// is waited for a few seconds (through `ctx`), then read from pg_wal.
// The first pages of the segment after `name` in `directory` (pg_wal), for the record crossing
// into it (summarize_wal_segment's next_segment_head); empty when it is not there or unreadable
// (the summary then may come out incomplete, which only costs a fallback).
std::string next_segment_head(const fs::path& directory, const std::string& name,
                              std::uint64_t segment_size);

// The summary of segment `name` as the server's pg_wal holds it, completed from the next one.
Result<postgres::WalSummary> summarize_from_pg_wal(const fs::path& directory,
                                                   const std::string& name, std::uint32_t timeline,
                                                   std::optional<postgres::Lsn> before);

std::expected<postgres::WalSummary, std::string> changes_since(
    const repo::Manifest& previous, const std::string& start_lsn, std::uint32_t timeline,
    std::uint64_t segment_size, const fs::path& pgdata, const source::ContentSink& sink,
    const OperationContext& ctx);

}  // namespace lifeboat::postgres_physical
