// The logical PostgreSQL base backup (source/base_backup.hpp): one database copied under the
// snapshot a new logical replication slot exports, so that a change stream started from the
// slot's consistent point continues it without a gap or an overlap.
//
// Order of work (the order matters: a slot can export a snapshot but not import one, so the
// slot comes first): IDENTIFY_SYSTEM and CREATE_REPLICATION_SLOT lifeboat_<repository id
// prefix> LOGICAL pgoutput (SNAPSHOT 'export') on a replication connection, which then stays
// idle to keep the snapshot alive -> under that snapshot: pg_dump --section=pre-data and
// post-data, every sequence's value, and each table's COPY ... TO STDOUT (FORMAT binary) on
// parallel connections, each cut into blocks. A table larger than the request's
// split_table_bytes (pg_relation_size) is copied in block ranges instead, one COPY (SELECT *
// FROM t WHERE ctid ...) per range (table_ranges.hpp), all under the same snapshot. Entries:
// schema/pre-data.sql, schema/post-data.sql, schema/sequences.sql, data/<schema>.<table>.copy,
// or data/<schema>.<table>.<n>.copy for the n-th range (from 0) of a split table; the payload
// lists a split table once per range, in block order, and a restore loads each.
//
// The slot is permanent (the change stream will consume it). A slot of the same name left by an
// earlier backup is dropped and created again: until a change stream runs, each backup stands
// alone, and the backup's warnings say that the slot retains WAL on the source. A backup that
// fails after creating the slot drops it.
#pragma once

#include <memory>
#include <string>

#include "source/base_backup.hpp"

namespace lifeboat::postgres_logical {

// Connects (a normal and a replication connection) and runs the preflight checks
// (preflight.hpp): ErrorCode::usage without a connection string, ErrorCode::database with the
// first problem otherwise.
Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request);

// The slot a repository's backups use: "lifeboat_" and the first 16 characters of its id.
std::string slot_name_for(const std::string& repository_id);

// The entry path of a table's data: "data/<schema>.<table>.copy", with '%', '/', '.' and
// control characters of the names written as %XX, so that any names give one safe path
// component and two different tables never the same one ("a.b"."c" and "a"."b.c").
std::string table_entry_path(const std::string& schema, const std::string& table);

// The entry path of the `piece`-th block range of a split table: "data/<schema>.<table>.<piece>
// .copy", names escaped as in table_entry_path (so never another table's path).
std::string table_piece_path(const std::string& schema, const std::string& table,
                             std::size_t piece);

}  // namespace lifeboat::postgres_logical
