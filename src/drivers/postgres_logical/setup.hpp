// `lifeboat logical-setup`: what a source needs for logical backups, checked, and what Lifeboat
// may create there itself, printed or applied: the publication the change stream reads (FOR ALL
// TABLES, so that tables created later are captured too) and the DDL-capture event trigger,
// whose SECURITY DEFINER function writes every DDL command's text into the WAL with
// pg_logical_emit_message(true, 'lifeboat.ddl', current_query()), so that DDL reaches the
// change stream in commit order as a pgoutput logical message.
// Settings, role privileges and table definitions are the operator's: they are reported with
// the statement to run, never changed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "drivers/postgres_logical/change_log.hpp"
#include "util/error.hpp"

namespace lifeboat::postgres_logical {

// The publication the change stream reads.
inline constexpr std::string_view k_publication = "lifeboat";
// The DDL-capture event trigger (on ddl_command_end, which fires for DROP too) and its function;
// the prefix of the messages it emits is k_ddl_message_prefix (change_log.hpp).
inline constexpr std::string_view k_ddl_trigger = "lifeboat_capture_ddl";
inline constexpr std::string_view k_ddl_function = "public.lifeboat_capture_ddl";

// The statements that create the DDL-capture function and trigger.
std::vector<std::string> ddl_capture_statements();

enum class ApplySetup { no, yes };

struct SetupReport {
    std::vector<std::string> problems;  // preflight_problems: one line each
    std::vector<std::string> missing;   // SQL Lifeboat can run for the operator
    std::vector<std::string> applied;   // those of `missing` it ran (ApplySetup::yes)
    std::vector<std::string> notes;     // what the operator may want to change
    bool ddl_capture = false;           // the DDL-capture trigger is there (now)
    bool ok() const { return problems.empty() && missing.size() == applied.size(); }
};

// Connects with `conninfo` (the database to protect), checks it, and with ApplySetup::yes runs
// the missing statements (a FOR ALL TABLES publication and an event trigger need a superuser,
// rds_superuser on RDS and Aurora: `--pg` is then the source's admin role). ErrorCode::database
// when it cannot connect or a statement fails (naming what the role lacks).
Result<SetupReport> logical_setup(const std::string& conninfo, ApplySetup apply,
                                  std::chrono::seconds statement_timeout);

}  // namespace lifeboat::postgres_logical
