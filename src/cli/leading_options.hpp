// Options written before the command (`lifeboat --repo R list`, as `git -C dir status` or
// `pgbackrest --stanza=x backup`): a pure rewrite of the command line into the order the
// option parser reads (`lifeboat list --repo R`), given the shape of every command's options.
// The shape is derived from the option parser's own definitions (main.cpp), never kept by hand.
#pragma once

#include <string>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::cli {

// Whether an option may be given more than once on one command line.
enum class Repeat { once, many };

// One option as the parser consumes it: `--name` / `-n` spellings, and how many words follow it
// per occurrence (both 0 for a flag; `--name=value` and `-nVALUE` count as one).
struct OptionShape {
    std::string name;                      // for messages, e.g. "--repo"
    std::vector<std::string> long_names;   // without dashes: "repo"
    std::vector<std::string> short_names;  // without the dash: "h"
    int min_values = 0;                    // taken whatever they look like
    int max_values = 0;                    // the rest only while they do not look like options
    Repeat repeat = Repeat::many;          // flags and repeatable options: many
};

struct CommandShape {
    std::vector<std::string> names;  // the name, then its aliases
    std::vector<OptionShape> options;
};

struct CommandLineShape {
    std::vector<OptionShape> program_options;  // `--version`, `--help` of the program itself
    std::vector<CommandShape> commands;
};

// `args` is argv without argv[0]. Returns the words to parse: unchanged when nothing precedes
// the command, or when only program options (`--version`, `-h`) are given without a command
// (`--help` among other options without a command: just `--help`); else the command first, then the
// options that preceded it (same order, same meaning), then the rest as written. A program-only
// option (`--version`) stays before the command; `--help` before a command is that command's
// `--help`. Values are taken as the parser takes them, so
// `--repo list list` names the repository "list"; `--` after the command still ends the
// options, and is left alone.
// Refused with ErrorCode::usage and one line naming what is wrong: an option the command does
// not take (naming both), an unknown option or command, an option that takes one value given
// both before and after the command (Repeat::once: give it once), a missing value, `--` before
// the command, options without a command, and an option whose number of values differs between
// commands (so the command cannot be found without knowing it).
Result<std::vector<std::string>> put_leading_options_after_command(
    const CommandLineShape& shape, const std::vector<std::string>& args);

}  // namespace lifeboat::cli
