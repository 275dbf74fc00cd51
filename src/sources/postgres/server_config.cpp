#include "sources/postgres/server_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "util/shell.hpp"

namespace lifeboat::postgres {

Result<std::string> quote_config_value(std::string_view value, std::string_view what) {
    if (value.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
        return fail(ErrorCode::usage,
                    "{} contains a line break or NUL character, which PostgreSQL's "
                    "configuration cannot hold",
                    what);
    }
    std::string out = "'";
    for (const char c : value) {
        if (c == '\'' || c == '\\') out += c;
        out += c;
    }
    return out + "'";
}

std::string command_word(std::string_view text) {
    std::string out;
    for (const char c : shell_quote(text)) {
        if (c == '%') out += '%';
        out += c;
    }
    return out;
}

const std::vector<std::string_view>& recovery_setting_names() {
    static const std::vector<std::string_view> names = {
        "recovery_target",          "recovery_target_lsn",      "recovery_target_name",
        "recovery_target_time",     "recovery_target_xid",      "recovery_target_inclusive",
        "recovery_target_timeline", "recovery_target_action",   "restore_command",
        "recovery_end_command",     "archive_cleanup_command",  "primary_conninfo",
        "primary_slot_name",        "recovery_min_apply_delay", "promote_trigger_file",
    };
    return names;
}

namespace {

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The setting name a configuration line sets, "" for comments, blank lines and anything else.
std::string_view setting_of(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    const std::size_t start = i;
    while (i < line.size() && is_name_char(line[i]))
        ++i;
    if (i == start) return {};
    const std::string_view name = line.substr(start, i - start);
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    // "name = value" or "name value"; a name alone is not a setting.
    if (i == line.size() || line[i] == '#') return {};
    return name;
}

}  // namespace

NeutralizedConfig comment_out_settings(std::string_view text,
                                       const std::vector<std::string_view>& names,
                                       std::string_view note) {
    NeutralizedConfig out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        const bool last = end == std::string_view::npos;
        if (last) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        const std::string_view name = setting_of(line);
        const bool owned =
            !name.empty() && std::any_of(names.begin(), names.end(),
                                         [&](std::string_view n) { return same_name(n, name); });
        if (owned) {
            out.text += "# ";
            out.text += note;
            out.text += ' ';
            out.commented_out.emplace_back(name);
        }
        out.text += line;
        if (!last) out.text += '\n';
        start = end + 1;
    }
    return out;
}

namespace {

// The value part of a line that sets a setting: after the name, blanks and an optional '='.
std::string_view value_part(std::string_view line, std::string_view name) {
    std::size_t i = static_cast<std::size_t>(name.data() - line.data()) + name.size();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    if (i < line.size() && line[i] == '=') ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    return line.substr(i);
}

// The value itself: a quoted string ('' and \' inside) or a word up to a blank or '#'.
std::string unquoted_value(std::string_view part) {
    std::string out;
    if (!part.empty() && part[0] == '\'') {
        for (std::size_t i = 1; i < part.size(); ++i) {
            const char c = part[i];
            if (c == '\\' && i + 1 < part.size()) {
                out += part[++i];
            } else if (c == '\'') {
                if (i + 1 < part.size() && part[i + 1] == '\'') {
                    out += '\'';
                    ++i;
                } else {
                    break;
                }
            } else {
                out += c;
            }
        }
        return out;
    }
    const std::size_t end = part.find_first_of(" \t#\r");
    return std::string(part.substr(0, end));
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        f(text.substr(start, end - start));
        start = end + 1;
    }
}

}  // namespace

std::optional<std::string> last_setting_value(std::string_view text, std::string_view name) {
    std::optional<std::string> found;
    for_each_line(text, [&](std::string_view line) {
        const std::string_view set = setting_of(line);
        if (!set.empty() && same_name(set, name)) found = unquoted_value(value_part(line, set));
    });
    return found;
}

bool has_include_directive(std::string_view text) {
    bool found = false;
    for_each_line(text, [&](std::string_view line) {
        const std::string_view set = setting_of(line);
        if (same_name(set, "include") || same_name(set, "include_if_exists") ||
            same_name(set, "include_dir"))
            found = true;
    });
    return found;
}

std::optional<std::uint64_t> parse_memory_size(std::string_view value, std::uint64_t unit_bytes) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end == value.data()) return std::nullopt;
    std::string_view unit(end, static_cast<std::size_t>(value.data() + value.size() - end));
    while (!unit.empty() && (unit.front() == ' ' || unit.front() == '\t'))
        unit.remove_prefix(1);
    // PostgreSQL's memory units, case-sensitive as it reads them.
    std::uint64_t scale = 0;
    if (unit.empty())
        scale = unit_bytes;
    else if (unit == "B")
        scale = 1;
    else if (unit == "kB")
        scale = 1ull << 10;
    else if (unit == "MB")
        scale = 1ull << 20;
    else if (unit == "GB")
        scale = 1ull << 30;
    else if (unit == "TB")
        scale = 1ull << 40;
    if (scale == 0 || number > UINT64_MAX / scale) return std::nullopt;
    return number * scale;
}

}  // namespace lifeboat::postgres
