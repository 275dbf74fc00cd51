// Quoting for POSIX sh, for the few places that must hand a command line to a shell (commands
// PostgreSQL runs from its configuration). Everything else runs programs without a shell.
#pragma once

#include <string>
#include <string_view>

namespace lifeboat {

// One shell word that stands for exactly `text`: wrapped in single quotes, each ' written as
// '\'' (close, escaped quote, reopen). Nothing inside single quotes is special to sh: not $,
// `, \, ;, spaces or newlines.
std::string shell_quote(std::string_view text);

}  // namespace lifeboat
