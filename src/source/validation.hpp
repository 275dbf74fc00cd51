// Validation of a restored instance, kind-neutral: what was checked and what was found
// (SourceDriver::validate runs the checks of its kind; docs/cli.md, "validate"). A database is
// a database (PostgreSQL) or database (MongoDB); a table a table or collection.
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

namespace lifeboat::repo {
struct Manifest;
}

namespace lifeboat::source {

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
    // Kinds that validate against what a backup recorded (mongodb: counts, index specifications,
    // sample hashes): that backup's manifest (outlives the call); the others ignore it.
    const repo::Manifest* recorded = nullptr;
    // The directory a restore of this kind wrote (its --target-dir), for kinds whose restore
    // leaves there a record of what it changed after the backup (mongodb: the change events
    // applied up to the target); the checks then expect that state. nullopt: the backup's own.
    std::optional<std::filesystem::path> restore_dir;
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

}  // namespace lifeboat::source
