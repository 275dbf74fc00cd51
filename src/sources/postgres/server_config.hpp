// Writing PostgreSQL server configuration (postgresql.conf / postgresql.auto.conf) safely:
// values quoted for the configuration parser, commands for the shell that runs them, and the
// recovery settings a restore owns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::postgres {

// A configuration value as a quoted string: '…' with ' doubled and \ doubled (the parser reads
// backslash escapes inside quotes). A value cannot hold a line break or a NUL: ErrorCode::
// usage naming `what`.
Result<std::string> quote_config_value(std::string_view value, std::string_view what);

// A shell word for `text` inside restore_command / archive_command: shell-quoted
// (util/shell.hpp), then each % doubled, since PostgreSQL expands %f, %p, %r and %% in these
// commands before the shell sees them.
std::string command_word(std::string_view text);

// The recovery settings a restore decides: every recovery target, the commands recovery runs,
// and the settings that would make the instance a standby of some other server.
const std::vector<std::string_view>& recovery_setting_names();

struct NeutralizedConfig {
    std::string text;
    // The names of the settings turned into comments (not their values, which may hold
    // passwords: primary_conninfo).
    std::vector<std::string> commented_out;
};

// Turns every line of `text` (a configuration file) that sets one of `names` (case-insensitive,
// with or without '=') into a comment starting with `note`, so that only what the caller writes
// afterwards takes effect and the old value stays visible.
NeutralizedConfig comment_out_settings(std::string_view text,
                                       const std::vector<std::string_view>& names,
                                       std::string_view note);

// The value the last line of `text` (a configuration file) that sets `name` gives it, without
// quotes or a trailing comment; nullopt when no line sets it.
std::optional<std::string> last_setting_value(std::string_view text, std::string_view name);

// Whether `text` has an include, include_if_exists or include_dir directive (a setting may then
// come from a file this text does not show).
bool has_include_directive(std::string_view text);

// A memory size in PostgreSQL's syntax ("256MB", "1GB", "64kB", "1TB", "8192B", or a number
// of `unit_bytes` without a unit: shared_buffers counts 8 kB pages); nullopt when it is not one
// or overflows.
std::optional<std::uint64_t> parse_memory_size(std::string_view value, std::uint64_t unit_bytes);

}  // namespace lifeboat::postgres
