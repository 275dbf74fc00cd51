#include "cli/leading_options.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

namespace lifeboat::cli {

namespace {

// How the option parser (CLI11 2.x, App::_recognize) sorts a word; mirrored so that the words
// taken as values here are the ones it takes as values after the command.
enum class WordKind { end_of_options, long_option, short_option, plain };

bool valid_first_char(char c) {
    return c != '-' && c != '!' && c != ' ' && c != '\n';
}

struct Word {
    WordKind kind = WordKind::plain;
    std::string name;                         // without dashes; for a short word, its first letter
    std::optional<std::string> inline_value;  // --name=VALUE, or what follows -n
};

// `short_exists` answers whether "-<digit>" is an option: the parser reads "-5" as a value
// unless it is.
template <typename ShortExists>
Word classify(std::string_view w, const ShortExists& short_exists) {
    if (w == "--") return {WordKind::end_of_options, "", std::nullopt};
    if (w.size() > 2 && w.substr(0, 2) == "--" && valid_first_char(w[2])) {
        const auto eq = w.find('=');
        if (eq == std::string_view::npos) return {WordKind::long_option, std::string(w.substr(2))};
        return {WordKind::long_option, std::string(w.substr(2, eq - 2)),
                std::string(w.substr(eq + 1))};
    }
    if (w.size() > 1 && w[0] == '-' && valid_first_char(w[1])) {
        const std::string name(1, w[1]);
        if (w[1] >= '0' && w[1] <= '9' && !short_exists(name)) return {WordKind::plain, ""};
        return {WordKind::short_option, name,
                w.size() > 2 ? std::optional<std::string>(w.substr(2)) : std::nullopt};
    }
    return {WordKind::plain, ""};
}

bool has_name(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

const OptionShape* find_option(const std::vector<OptionShape>& options, WordKind kind,
                               const std::string& name) {
    for (const auto& o : options)
        if (has_name(kind == WordKind::long_option ? o.long_names : o.short_names, name)) return &o;
    return nullptr;
}

const CommandShape* find_command(const CommandLineShape& shape, const std::string& word) {
    for (const auto& c : shape.commands)
        if (has_name(c.names, word)) return &c;
    return nullptr;
}

std::string spelled(WordKind kind, const std::string& name) {
    return (kind == WordKind::long_option ? "--" : "-") + name;
}

// The options before the command are read without knowing the command yet: a spelling is looked
// up among every command's options and the program's own, which must agree on how many values
// it takes.
struct AnyCommandOption {
    const OptionShape* shape = nullptr;  // the first found: all agree on values
    bool ambiguous = false;
};

AnyCommandOption find_in_any(const CommandLineShape& shape, WordKind kind,
                             const std::string& name) {
    AnyCommandOption found;
    auto consider = [&](const std::vector<OptionShape>& options) {
        const OptionShape* o = find_option(options, kind, name);
        if (!o) return;
        if (!found.shape) {
            found.shape = o;
        } else if (found.shape->min_values != o->min_values ||
                   found.shape->max_values != o->max_values) {
            found.ambiguous = true;
        }
    };
    consider(shape.program_options);
    for (const auto& c : shape.commands)
        consider(c.options);
    return found;
}

// One option given on the line: the words [first, end) and what it was written as.
struct Occurrence {
    std::size_t first = 0;
    std::size_t end = 0;
    WordKind kind = WordKind::long_option;
    std::string name;  // as written, without dashes
};

// The words an option at `at` takes after itself, as the parser takes them: `min_values`
// whatever they are, then up to `max_values` plain words that `stop` does not claim.
template <typename Stop>
Result<std::size_t> end_of_values(const std::vector<std::string>& args, std::size_t at,
                                  const OptionShape& o, int already, const std::string& written,
                                  const Stop& stop) {
    std::size_t i = at + 1;
    int collected = already;
    while (collected < o.min_values && i < args.size()) {
        ++collected;
        ++i;
    }
    if (collected < o.min_values)
        return fail(ErrorCode::usage, "{} needs a value (see lifeboat --help)", written);
    while (collected < o.max_values && i < args.size() && !stop(args[i])) {
        ++collected;
        ++i;
    }
    return i;
}

}  // namespace

Result<std::vector<std::string>> put_leading_options_after_command(
    const CommandLineShape& shape, const std::vector<std::string>& args) {
    auto short_in_any = [&](const std::string& name) {
        return find_in_any(shape, WordKind::short_option, name).shape != nullptr;
    };
    // What an option that was not found precedes, for naming the command in the message.
    auto command_after = [&](std::size_t from) -> std::optional<std::string> {
        for (std::size_t j = from; j < args.size(); ++j)
            if (find_command(shape, args[j])) return args[j];
        return std::nullopt;
    };

    std::vector<Occurrence> leading;
    std::size_t i = 0;
    while (i < args.size()) {
        const Word w = classify(args[i], short_in_any);
        if (w.kind == WordKind::plain) break;
        if (w.kind == WordKind::end_of_options) {
            return fail(ErrorCode::usage,
                        "'--' ends the options of a command, so it goes after the command: "
                        "lifeboat COMMAND [OPTIONS] -- ARGUMENTS (see lifeboat --help)");
        }
        const AnyCommandOption any = find_in_any(shape, w.kind, w.name);
        const std::string written = spelled(w.kind, w.name);
        if (!any.shape) {
            if (auto command = command_after(i + 1)) {
                return fail(ErrorCode::usage,
                            "{} is not an option of '{}' (see lifeboat {} --help)", written,
                            *command, *command);
            }
            return fail(ErrorCode::usage, "unknown option '{}' (see lifeboat --help)", written);
        }
        if (any.ambiguous) {
            return fail(ErrorCode::usage,
                        "{} takes a different number of values in different commands: put it "
                        "after the command (see lifeboat COMMAND --help)",
                        written);
        }
        // A flag in a cluster of short flags (-hv) would be followed by more flags; only single
        // flags and -nVALUE are read here, the parser checks the rest after the command.
        const int inline_values = w.inline_value && any.shape->max_values > 0 ? 1 : 0;
        auto stop = [&](const std::string& word) {
            return classify(word, short_in_any).kind != WordKind::plain ||
                   find_command(shape, word) != nullptr;
        };
        const std::size_t end =
            LB_TRY(end_of_values(args, i, *any.shape, inline_values, written, stop));
        leading.push_back({i, end, w.kind, w.name});
        i = end;
    }
    if (leading.empty()) {
        if (!args.empty() && !find_command(shape, args[0])) {
            return fail(ErrorCode::usage, "unknown command '{}' (see lifeboat --help)", args[0]);
        }
        return args;
    }

    auto is_program_option = [&](const Occurrence& o) {
        return find_option(shape.program_options, o.kind, o.name) != nullptr;
    };
    if (i == args.size()) {
        // `lifeboat --help`, `lifeboat --version`: the program's own, for the parser.
        if (std::all_of(leading.begin(), leading.end(), is_program_option)) return args;
        // `lifeboat --repo R --help`: the program's help, whatever else was given.
        for (const auto& o : leading) {
            const OptionShape* shape_found = find_option(shape.program_options, o.kind, o.name);
            if (shape_found && shape_found->name == "--help")
                return std::vector<std::string>{"--help"};
        }
        return fail(ErrorCode::usage,
                    "no command given after {}: lifeboat [OPTIONS] COMMAND [OPTIONS] (see "
                    "lifeboat --help)",
                    args[leading.front().first]);
    }
    const CommandShape* command = find_command(shape, args[i]);
    if (!command) {
        return fail(ErrorCode::usage, "unknown command '{}' (see lifeboat --help)", args[i]);
    }
    const std::string& command_word = args[i];
    const std::size_t command_at = i;

    // The options given after the command, up to `--`, by the option they are.
    auto short_in_command = [&](const std::string& name) {
        return find_option(command->options, WordKind::short_option, name) != nullptr;
    };
    std::vector<const OptionShape*> after;
    for (std::size_t j = command_at + 1; j < args.size();) {
        const Word w = classify(args[j], short_in_command);
        if (w.kind == WordKind::end_of_options) break;
        const OptionShape* o =
            w.kind == WordKind::plain ? nullptr : find_option(command->options, w.kind, w.name);
        if (!o) {
            ++j;  // a positional argument, or an unknown option the parser reports
            continue;
        }
        after.push_back(o);
        const int inline_values = w.inline_value && o->max_values > 0 ? 1 : 0;
        auto stop = [&](const std::string& word) {
            return classify(word, short_in_command).kind != WordKind::plain;
        };
        auto end = end_of_values(args, j, *o, inline_values, spelled(w.kind, w.name), stop);
        if (!end) break;  // the parser reports the missing value
        j = *end;
    }

    std::vector<std::string> stays;
    std::vector<std::string> moves;
    for (const auto& occurrence : leading) {
        const std::string written = spelled(occurrence.kind, occurrence.name);
        const OptionShape* o = find_option(command->options, occurrence.kind, occurrence.name);
        auto& into = o ? moves : stays;
        if (!o && !is_program_option(occurrence)) {
            return fail(ErrorCode::usage, "{} is not an option of '{}' (see lifeboat {} --help)",
                        written, command_word, command_word);
        }
        if (o && o->repeat == Repeat::once &&
            std::find(after.begin(), after.end(), o) != after.end()) {
            return fail(ErrorCode::usage,
                        "{} is given both before and after '{}': give it once (see lifeboat {} "
                        "--help)",
                        o->name, command_word, command_word);
        }
        into.insert(into.end(), args.begin() + static_cast<std::ptrdiff_t>(occurrence.first),
                    args.begin() + static_cast<std::ptrdiff_t>(occurrence.end));
    }
    std::vector<std::string> out = std::move(stays);
    out.push_back(command_word);
    out.insert(out.end(), moves.begin(), moves.end());
    out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(command_at) + 1, args.end());
    return out;
}

}  // namespace lifeboat::cli
