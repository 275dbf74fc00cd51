// `lifeboat logical-setup`: what a source needs for logical backups, checked, and what Lifeboat
// may create there itself (the publication the change stream will read), printed or applied.
// Settings, role privileges and table definitions are the operator's: they are reported with
// the statement to run, never changed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::postgres_logical {

// The publication the change stream reads.
inline constexpr std::string_view k_publication = "lifeboat";

enum class ApplySetup { no, yes };

struct SetupReport {
    std::vector<std::string> problems;  // preflight_problems: one line each
    std::vector<std::string> missing;   // SQL Lifeboat can run for the operator
    std::vector<std::string> applied;   // those of `missing` it ran (ApplySetup::yes)
    bool ok() const { return problems.empty() && missing.size() == applied.size(); }
};

// Connects with `conninfo` (the database to protect), checks it, and with ApplySetup::yes runs
// the missing statements (which need an owner of the tables or a superuser: `--pg` is then the
// source's admin role). ErrorCode::database when it cannot connect or a statement fails.
Result<SetupReport> logical_setup(const std::string& conninfo, ApplySetup apply,
                                  std::chrono::seconds statement_timeout);

}  // namespace lifeboat::postgres_logical
