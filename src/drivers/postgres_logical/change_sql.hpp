// The SQL that applies one decoded change (pgoutput_decoder.hpp) to a target database: pure
// text building, no database. Values are never interpolated: each statement has numbered
// parameters in text format, which the target parses by the column's type, exactly as the
// source printed them.
//
// - Insert: every column of the relation.
// - Update: SET every column except the unchanged-TOAST ones ('u': the target keeps its value),
//   WHERE the replica identity key columns equal the old key (when the change carried one) or
//   the new tuple's key columns (the key did not change).
// - Delete: WHERE the key columns equal the old key.
// - With REPLICA IDENTITY FULL (an old full tuple): the row is located by every old column that
//   is not unchanged TOAST (IS NOT DISTINCT FROM, so NULLs match), one row only (ctid).
// - Truncate: TRUNCATE ONLY the relations, with RESTART IDENTITY and CASCADE as the source ran it.
// Statements of the same shape (relation definition, action, omitted columns) have the same text,
// so a caller can prepare each shape once (`shape` identifies it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drivers/postgres_logical/pgoutput_decoder.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_logical {

struct ChangeStatement {
    std::string sql;
    std::vector<std::optional<std::string>> params;  // nullopt: SQL NULL
    std::string shape;  // equal for statements whose `sql` is equal (within one relation object)
};

// "identifier" with embedded quotes doubled: always quoted, so any name is taken as written.
std::string quote_identifier(std::string_view name);
// "schema"."name"
std::string qualified_name(const Relation& relation);

// Insert, update or remove. ErrorCode::corrupt when the tuple does not match the relation's
// columns, or an update/delete has no way to locate its row (no key columns and no old tuple).
Result<ChangeStatement> change_statement(const Change& change);
std::string truncate_statement(const Change& change);

}  // namespace lifeboat::postgres_logical
