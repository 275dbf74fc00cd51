// The parts of `validate` that need no database: user-check files, expectations, baselines and
// connection strings. Used by validate.cpp; public for unit tests.
//
// A checks file is TOML with an array of tables named `check`:
//   [[check]]
//   name = "users exist"               # required, string
//   sql = "SELECT count(*) FROM users" # required: must return one row of one column
//   expect = "> 0"                     # required, see parse_expectation
//   database = "app"                   # optional; default: the database of the conninfo
// and, for the point-in-time check, an array of tables named `point_in_time`:
//   [[point_in_time]]
//   table = "orders"                   # required
//   column = "created_at"              # required: a timestamp column
//   within = "5m"                      # optional, default 5m: newest row at most this old
//   database = "app"                   # optional
// Any other key is refused, so a misspelt key cannot silently disable a check.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/postgres_physical/validate.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_physical {

struct Expectation {
    enum class Op { eq, ne, gt, ge, lt, le, is_null, is_not_null };
    // number: compared as long double; text: compared byte-wise with the value's text;
    // boolean: = / != against PostgreSQL's 't' / 'f'; target: compared by the server as
    // timestamptz with ValidateOptions::target; none: is null / is not null.
    enum class Operand { number, text, boolean, target, none };
    Op op = Op::eq;
    Operand operand = Operand::none;
    long double number = 0;
    std::string text;    // the string (text), "t"/"f" (boolean)
    std::string source;  // as written, for messages
};

// Grammar: `is null` | `is not null` | OP OPERAND, where OP is one of = != <> > >= < <= and
// OPERAND is a number, a 'quoted string' ('' inside quotes stands for one quote), true, false,
// or target (all keywords case-insensitive). Fails with ErrorCode::config and the reason.
Result<Expectation> parse_expectation(std::string_view text);

// SQL comparison operator of `op` (not for is_null / is_not_null).
std::string_view expectation_operator(Expectation::Op op);

struct Verdict {
    bool passed = false;
    std::string detail;
};

// Evaluates a non-target expectation against a query's single value (nullopt for NULL). A NULL
// fails every comparison with "query returned NULL"; a value that is not a number fails a
// numeric comparison.
Verdict evaluate_expectation(const Expectation& expect, const std::optional<std::string>& value);

// A point-in-time check ([[point_in_time]]): in a restore to the target, no row of `table` has
// `column` later than the target, and the newest is at most `within` before it (the archive's
// granularity plus the application's own delay between a row's time and its commit).
struct PointInTimeCheck {
    std::string table;   // as in SQL: "orders", "app.orders"
    std::string column;  // a timestamp or timestamptz column
    std::chrono::seconds within{300};
};

struct UserCheck {
    std::string name;
    std::string sql;
    Expectation expect;
    std::optional<std::string> database;            // nullopt: the database of the conninfo
    int line = 0;                                   // of the [[check]] header, for messages
    std::optional<PointInTimeCheck> point_in_time;  // set: this is one, sql/expect are unused
    bool needs_target() const {
        return point_in_time || expect.operand == Expectation::Operand::target;
    }
};

// Parses a checks file's text; `source` names it in messages ("FILE line N: ...").
Result<std::vector<UserCheck>> parse_user_checks(std::string_view toml_text,
                                                 const std::string& source);
// Reads and parses a checks file (ErrorCode::config when unreadable).
Result<std::vector<UserCheck>> load_user_checks(const std::filesystem::path& file);

// The tables of a report written by ValidationReport::to_json (other members are ignored).
Result<std::vector<TableCount>> parse_baseline(std::string_view json_text,
                                               const std::string& source);
Result<std::vector<TableCount>> load_baseline(const std::filesystem::path& file);

// Baseline outcomes: a failed one per baseline table that is missing or whose count differs, a
// passed one per matching table and a passed "new table" one per table absent from the
// baseline. Baseline tables of a database not in `validated_databases` are reported as one
// failed outcome per such database (it is missing, or was not part of this run).
std::vector<CheckOutcome> compare_with_baseline(
    const std::vector<TableCount>& baseline, const std::vector<TableCount>& current,
    const std::vector<std::string>& validated_databases);

// `conninfo` (key=value string or URI) with its dbname replaced, as a key=value string.
// Fails with ErrorCode::usage when libpq cannot parse `conninfo`.
Result<std::string> conninfo_with_database(const std::string& conninfo,
                                           const std::string& database);

}  // namespace lifeboat::postgres_physical
