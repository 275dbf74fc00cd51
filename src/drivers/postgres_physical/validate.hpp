// validate: checks a running PostgreSQL instance, typically right after a restore.
//
// Which databases: by default every database that accepts connections and is not a template
// (pg_database: datallowconn AND NOT datistemplate), each reached through `conninfo` with its
// dbname replaced; ValidateOptions::databases narrows that to a list. What is checked, per
// validated database:
//   connect      one outcome per database the run connects to;
//   row_count    the exact row count (SELECT count(*)) of every permanent user table: leaf tables
//                only (relkind 'r'), so a partitioned table is counted once, through its
//                partitions. Unlogged and temporary tables are skipped: a restore never carries
//                their contents. One passed outcome per database, one failed outcome per table
//                that could not be counted;
//   foreign_key  every top-level foreign key, by an anti-join: referencing rows whose key has no
//                match in the referenced table (MATCH SIMPLE: rows with any NULL key column are
//                exempt; MATCH FULL: rows mixing NULL and non-NULL key columns are orphans too);
//   amcheck      bt_index_check on every valid, ready B-tree index of a user table, when the
//                amcheck extension is installed, or available and the user is a superuser. In
//                the latter case the extension is created inside a transaction that is rolled
//                back, so the instance is left as it was; otherwise a skipped outcome says why;
//   user         the checks of ValidateOptions::checks_file (format: validate_checks.hpp);
//   baseline     row counts compared with a report written earlier by to_json().
// Counts, foreign keys and user checks of one database run in one REPEATABLE READ READ ONLY
// transaction, so they describe one snapshot and a user check cannot modify the instance.
#pragma once

#include "source/validation.hpp"

namespace lifeboat::postgres_physical {

using source::CheckOutcome;
using source::DatabaseSummary;
using source::TableCount;
using source::ValidateOptions;
using source::ValidationReport;

// Runs every check. Errors (not failed checks) only for: the first connection failing
// (ErrorCode::database); an unreadable or malformed checks or baseline file, including a bad
// expectation (ErrorCode::config, naming the file and, where known, the line); a "target"
// expectation without ValidateOptions::target (ErrorCode::usage). Files are read before
// connecting. A listed database or a user check's database that refuses the connection is a
// failed connect outcome; a user check whose SQL fails is a failed user outcome.
Result<ValidationReport> run_validation(const ValidateOptions& options);

}  // namespace lifeboat::postgres_physical
