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

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::engine {

struct ValidateOptions {
    std::string conninfo;                                // libpq connection string or URI
    std::optional<std::filesystem::path> checks_file;    // user checks (TOML)
    std::optional<std::filesystem::path> baseline_file;  // JSON written earlier by to_json()
    std::optional<Timestamp> target;  // the restore target, for "<= target" expectations
    // Empty: every database that accepts connections and is not a template. Otherwise these
    // (a name that does not exist or refuses connections is a failed connect outcome).
    std::vector<std::string> databases;
    // Per statement (postgres::ConnectLimits::statement); connecting is limited by the conninfo's
    // connect_timeout, 10 s by default.
    std::chrono::seconds statement_timeout{3600};
};

struct TableCount {
    std::string database, schema, table;
    std::int64_t rows = 0;
};

struct CheckOutcome {
    std::string kind;  // connect, row_count, foreign_key, amcheck, user, baseline
    std::string name;  // user checks: their name; others: "database:schema.object[.constraint]"
    bool passed = false;
    std::string detail;
    // Passed but could not run (e.g. amcheck not available): reported, never a failure.
    bool skipped = false;
    std::string database;  // where it ran (user checks: their database); "" when none
};

// What was checked in one database: counts of outcomes by kind.
struct DatabaseSummary {
    std::string database;
    std::size_t tables = 0;                                      // tables whose rows were counted
    std::map<std::string, std::size_t> passed, failed, skipped;  // kind -> outcomes
    bool ok() const { return failed.empty(); }
};

// One summary per database named by an outcome, in order of first appearance.
std::vector<DatabaseSummary> summarize_databases(const std::vector<CheckOutcome>& checks,
                                                 const std::vector<TableCount>& tables);
// "database app: FAILED: 2 tables counted; passed connect 1, row_count 1; failed foreign_key 1"
std::string summary_line(const DatabaseSummary& summary);

struct ValidationReport {
    std::vector<TableCount> tables;
    std::vector<CheckOutcome> checks;

    // True when no check failed.
    bool passed() const;
    // One JSON object, {"passed":bool,"databases":[{"name","passed","tables","checks":{KIND:
    // {"passed","failed","skipped"}}}],"tables":[{"database","schema","table","rows"}],
    // "checks":[{"kind","name","database","passed","detail","skipped"}]}. This text is what a
    // later run reads back as its baseline.
    std::string to_json() const;
    // For a person: one line per failed or skipped check, one summary_line per database, the
    // number of passed checks per kind, and a final line "PASSED" or "FAILED (n of m checks
    // failed)".
    std::string to_text() const;
};

// Runs every check. Errors (not failed checks) only for: the first connection failing
// (ErrorCode::database); an unreadable or malformed checks or baseline file, including a bad
// expectation (ErrorCode::config, naming the file and, where known, the line); a "target"
// expectation without ValidateOptions::target (ErrorCode::usage). Files are read before
// connecting. A listed database or a user check's database that refuses the connection is a
// failed connect outcome; a user check whose SQL fails is a failed user outcome.
Result<ValidationReport> run_validation(const ValidateOptions& options);

}  // namespace lifeboat::engine
