#include "drivers/postgres_physical/validate_checks.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <tuple>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "sources/postgres/libpq_library.hpp"
#include "util/fs.hpp"

namespace lifeboat::postgres_physical {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Collapses runs of blanks so "is   not null" matches "is not null".
std::string normalize_words(std::string_view text) {
    std::string out;
    bool blank = false;
    for (char c : trim(text)) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) out += ' ';
        blank = false;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// Whole-string number; strtold accepts what PostgreSQL prints for every numeric type.
std::optional<long double> parse_number(const std::string& text) {
    if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long double value = std::strtold(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
    return value;
}

template <typename T>
bool compare(Expectation::Op op, const T& a, const T& b) {
    switch (op) {
        case Expectation::Op::eq:
            return a == b;
        case Expectation::Op::ne:
            return a != b;
        case Expectation::Op::gt:
            return a > b;
        case Expectation::Op::ge:
            return a >= b;
        case Expectation::Op::lt:
            return a < b;
        case Expectation::Op::le:
            return a <= b;
        default:
            return false;
    }
}

}  // namespace

Result<Expectation> parse_expectation(std::string_view text) {
    Expectation out;
    out.source = std::string(trim(text));
    const std::string words = normalize_words(text);
    if (words == "is null" || words == "is not null") {
        out.op = words == "is null" ? Expectation::Op::is_null : Expectation::Op::is_not_null;
        return out;
    }
    static constexpr std::pair<std::string_view, Expectation::Op> k_operators[] = {
        {">=", Expectation::Op::ge}, {"<=", Expectation::Op::le}, {"!=", Expectation::Op::ne},
        {"<>", Expectation::Op::ne}, {"=", Expectation::Op::eq},  {">", Expectation::Op::gt},
        {"<", Expectation::Op::lt},
    };
    std::string_view rest = trim(text);
    bool found = false;
    for (const auto& [symbol, op] : k_operators) {
        if (rest.starts_with(symbol)) {
            out.op = op;
            rest = trim(rest.substr(symbol.size()));
            found = true;
            break;
        }
    }
    if (!found) {
        return fail(ErrorCode::config,
                    "bad expectation '{}': expected an operator (= != > >= < <=), 'is null' or "
                    "'is not null'",
                    out.source);
    }
    if (rest.empty()) {
        return fail(ErrorCode::config, "bad expectation '{}': nothing to compare with", out.source);
    }
    const bool ordering = out.op != Expectation::Op::eq && out.op != Expectation::Op::ne;
    const std::string word = lower(rest);
    if (word == "target") {
        out.operand = Expectation::Operand::target;
    } else if (word == "true" || word == "false") {
        if (ordering) {
            return fail(ErrorCode::config,
                        "bad expectation '{}': booleans allow only = and !=", out.source);
        }
        out.operand = Expectation::Operand::boolean;
        out.text.assign(1, word == "true" ? 't' : 'f');
    } else if (rest.front() == '\'') {
        // SQL-style literal: '' is an embedded quote, a lone quote must close the string.
        std::string value;
        std::size_t i = 1;
        bool closed = false;
        for (; i < rest.size(); ++i) {
            if (rest[i] != '\'') {
                value += rest[i];
            } else if (i + 1 < rest.size() && rest[i + 1] == '\'') {
                value += '\'';
                ++i;
            } else {
                closed = true;
                break;
            }
        }
        if (!closed || i + 1 != rest.size()) {
            return fail(ErrorCode::config,
                        "bad expectation '{}': a string must be one 'quoted' value", out.source);
        }
        out.operand = Expectation::Operand::text;
        out.text = std::move(value);
    } else if (auto number = parse_number(std::string(rest))) {
        out.operand = Expectation::Operand::number;
        out.number = *number;
        out.text = std::string(rest);
    } else {
        return fail(ErrorCode::config,
                    "bad expectation '{}': '{}' is not a number, a 'quoted string', true, false "
                    "or target",
                    out.source, rest);
    }
    return out;
}

std::string_view expectation_operator(Expectation::Op op) {
    switch (op) {
        case Expectation::Op::eq:
            return "=";
        case Expectation::Op::ne:
            return "<>";
        case Expectation::Op::gt:
            return ">";
        case Expectation::Op::ge:
            return ">=";
        case Expectation::Op::lt:
            return "<";
        case Expectation::Op::le:
            return "<=";
        default:
            return "";
    }
}

Verdict evaluate_expectation(const Expectation& expect, const std::optional<std::string>& value) {
    const std::string shown = value ? fmt::format("'{}'", *value) : std::string("NULL");
    if (expect.op == Expectation::Op::is_null || expect.op == Expectation::Op::is_not_null) {
        const bool passed = (expect.op == Expectation::Op::is_null) == !value.has_value();
        return {passed, fmt::format("got {}, expected {}", shown, expect.source)};
    }
    if (!value) return {false, fmt::format("query returned NULL, expected {}", expect.source)};
    bool passed = false;
    switch (expect.operand) {
        case Expectation::Operand::number: {
            auto number = parse_number(*value);
            if (!number) {
                return {false, fmt::format("got {}, which is not a number, expected {}", shown,
                                           expect.source)};
            }
            passed = compare(expect.op, *number, expect.number);
            break;
        }
        case Expectation::Operand::text:
        case Expectation::Operand::boolean:
            passed = compare(expect.op, *value, expect.text);
            break;
        default:
            return {false, "internal: this expectation is evaluated by the server"};
    }
    return {passed, fmt::format("got {}, expected {}", shown, expect.source)};
}

namespace {

// One [[name]] table of a checks file: its line and its keys, every value a string.
struct StringTable {
    struct Entry {
        std::string key;
        std::string value;
        int line = 0;
    };
    int line = 0;
    std::vector<Entry> entries;
};

// Reads `node` as an array of tables of strings ([[name]]), refusing anything else.
Result<std::vector<StringTable>> read_string_tables(const toml::node& node,
                                                    const std::string& source,
                                                    std::string_view name) {
    const toml::array* list = node.as_array();
    if (!list) {
        return fail(ErrorCode::config, "{} line {}: '{}' must be an array of tables ([[{}]])",
                    source, node.source().begin.line, name, name);
    }
    std::vector<StringTable> tables;
    for (const toml::node& element : *list) {
        StringTable out;
        out.line = static_cast<int>(element.source().begin.line);
        const toml::table* table = element.as_table();
        if (!table) {
            return fail(ErrorCode::config, "{} line {}: each {} must be a table ([[{}]])", source,
                        out.line, name, name);
        }
        for (auto&& [key, value] : *table) {
            const int value_line = static_cast<int>(value.source().begin.line);
            const auto* text = value.as_string();
            if (!text) {
                return fail(ErrorCode::config, "{} line {}: '{}' must be a string", source,
                            value_line, key.str());
            }
            out.entries.push_back({std::string(key.str()), text->get(), value_line});
        }
        tables.push_back(std::move(out));
    }
    return tables;
}

Result<UserCheck> parse_point_in_time_check(const StringTable& table, const std::string& source) {
    UserCheck check;
    check.line = table.line;
    PointInTimeCheck pit;
    for (const auto& [key, value, line] : table.entries) {
        if (key == "table") {
            pit.table = value;
        } else if (key == "column") {
            pit.column = value;
        } else if (key == "within") {
            auto within = parse_duration(value);
            if (!within) {
                return fail(ErrorCode::config, "{} line {}: {}", source, line,
                            within.error().message);
            }
            pit.within = *within;
        } else if (key == "database") {
            check.database = value;
        } else {
            return fail(ErrorCode::config,
                        "{} line {}: unknown key '{}' (allowed: table, column, within, database)",
                        source, line, key);
        }
    }
    if (trim(pit.table).empty() || trim(pit.column).empty()) {
        return fail(ErrorCode::config, "{} line {}: point_in_time needs 'table' and 'column'",
                    source, table.line);
    }
    check.name = pit.table + "." + pit.column;
    check.point_in_time = std::move(pit);
    return check;
}

Result<UserCheck> parse_check(const StringTable& table, const std::string& source) {
    UserCheck check;
    check.line = table.line;
    std::optional<std::string> expect_text;
    int expect_line = table.line;
    for (const auto& [key, value, line] : table.entries) {
        if (key == "name") {
            check.name = value;
        } else if (key == "sql") {
            check.sql = value;
        } else if (key == "expect") {
            expect_text = value;
            expect_line = line;
        } else if (key == "database") {
            check.database = value;
        } else {
            return fail(ErrorCode::config,
                        "{} line {}: unknown key '{}' (allowed: name, sql, expect, database)",
                        source, line, key);
        }
    }
    for (const auto& [present, what] :
         {std::pair{!check.name.empty(), "name"}, std::pair{!trim(check.sql).empty(), "sql"},
          std::pair{expect_text.has_value(), "expect"}}) {
        if (!present) {
            return fail(ErrorCode::config, "{} line {}: check without '{}'", source, table.line,
                        what);
        }
    }
    auto expect = parse_expectation(*expect_text);
    if (!expect) {
        return fail(ErrorCode::config, "{} line {}: check '{}': {}", source, expect_line,
                    check.name, expect.error().message);
    }
    check.expect = std::move(*expect);
    return check;
}

}  // namespace

Result<std::vector<UserCheck>> parse_user_checks(std::string_view toml_text,
                                                 const std::string& source) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        return fail(ErrorCode::config, "{} line {}: {}", source, e.source().begin.line,
                    e.description());
    }
    for (auto&& [key, node] : root) {
        if (key.str() != "check" && key.str() != "point_in_time") {
            return fail(ErrorCode::config,
                        "{} line {}: unknown key '{}' (checks are [[check]] and [[point_in_time]])",
                        source, node.source().begin.line, key.str());
        }
    }
    std::vector<UserCheck> checks;
    if (const toml::node* node = root.get("point_in_time")) {
        for (const auto& table : LB_TRY(read_string_tables(*node, source, "point_in_time")))
            checks.push_back(LB_TRY(parse_point_in_time_check(table, source)));
    }
    if (const toml::node* node = root.get("check")) {
        for (const auto& table : LB_TRY(read_string_tables(*node, source, "check")))
            checks.push_back(LB_TRY(parse_check(table, source)));
    }
    return checks;
}

Result<std::vector<UserCheck>> load_user_checks(const std::filesystem::path& file) {
    auto text = read_file(file);
    if (!text) {
        return fail(ErrorCode::config, "cannot read checks file {}: {}", file.string(),
                    text.error().message);
    }
    return parse_user_checks(*text, file.string());
}

Result<std::vector<TableCount>> parse_baseline(std::string_view json_text,
                                               const std::string& source) {
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::parse_error& e) {
        const std::size_t end = std::min<std::size_t>(e.byte, json_text.size());
        const auto line = 1 + std::count(json_text.begin(), json_text.begin() + end, '\n');
        std::string what = e.what();
        if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
        return fail(ErrorCode::config, "{} line {}: malformed JSON: {}", source, line, what);
    }
    if (!root.is_object() || !root.contains("tables") || !root["tables"].is_array()) {
        return fail(ErrorCode::config,
                    "{}: not a validation report (expected an object with a \"tables\" array)",
                    source);
    }
    std::vector<TableCount> tables;
    std::size_t index = 0;
    for (const auto& entry : root["tables"]) {
        TableCount table;
        bool ok = entry.is_object();
        for (auto [key, field] :
             {std::pair{"database", &table.database}, std::pair{"schema", &table.schema},
              std::pair{"table", &table.table}}) {
            if (!ok) break;
            ok = entry.contains(key) && entry[key].is_string();
            if (ok) *field = entry[key].get<std::string>();
        }
        ok = ok && entry.contains("rows") && entry["rows"].is_number_integer();
        if (!ok) {
            return fail(ErrorCode::config,
                        "{}: tables[{}] needs string \"database\", \"schema\", \"table\" and an "
                        "integer \"rows\"",
                        source, index);
        }
        table.rows = entry["rows"].get<std::int64_t>();
        tables.push_back(std::move(table));
        ++index;
    }
    return tables;
}

Result<std::vector<TableCount>> load_baseline(const std::filesystem::path& file) {
    auto text = read_file(file);
    if (!text) {
        return fail(ErrorCode::config, "cannot read baseline file {}: {}", file.string(),
                    text.error().message);
    }
    return parse_baseline(*text, file.string());
}

std::vector<CheckOutcome> compare_with_baseline(
    const std::vector<TableCount>& baseline, const std::vector<TableCount>& current,
    const std::vector<std::string>& validated_databases) {
    using Key = std::tuple<std::string, std::string, std::string>;
    auto key_of = [](const TableCount& t) { return Key{t.database, t.schema, t.table}; };
    auto name_of = [](const TableCount& t) {
        return fmt::format("{}:{}.{}", t.database, t.schema, t.table);
    };
    std::map<Key, std::int64_t> now;
    for (const auto& t : current)
        now[key_of(t)] = t.rows;
    std::map<Key, bool> in_baseline;
    std::map<std::string, std::size_t> unvalidated;  // database -> baseline tables in it
    std::vector<CheckOutcome> out;
    for (const auto& t : baseline) {
        in_baseline[key_of(t)] = true;
        if (std::find(validated_databases.begin(), validated_databases.end(), t.database) ==
            validated_databases.end()) {
            ++unvalidated[t.database];
            continue;
        }
        auto it = now.find(key_of(t));
        if (it == now.end()) {
            out.push_back({"baseline", name_of(t), false,
                           fmt::format("table missing (baseline: {} rows)", t.rows), false,
                           t.database});
        } else if (it->second != t.rows) {
            out.push_back({"baseline", name_of(t), false,
                           fmt::format("{} rows, baseline {} rows", it->second, t.rows), false,
                           t.database});
        } else {
            out.push_back(
                {"baseline", name_of(t), true, fmt::format("{} rows", t.rows), false, t.database});
        }
    }
    for (const auto& [database, count] : unvalidated) {
        out.push_back({"baseline", database, false,
                       fmt::format("the baseline has {} tables in database {}, which this run did "
                                   "not validate (missing, refusing connections, or not selected)",
                                   count, database),
                       false, database});
    }
    for (const auto& t : current) {
        if (!in_baseline.contains(key_of(t))) {
            out.push_back({"baseline", name_of(t), true,
                           fmt::format("new table (not in the baseline), {} rows", t.rows), false,
                           t.database});
        }
    }
    return out;
}

Result<std::string> conninfo_with_database(const std::string& conninfo,
                                           const std::string& database) {
    LB_CHECK(postgres::libpq::load());
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (!options) {
        std::string message(error ? trim(error) : std::string_view("out of memory"));
        if (error) PQfreemem(error);
        return fail(ErrorCode::usage, "invalid connection string: {}", message);
    }
    // Rebuilt as key=value whatever the input form: one quoting rule covers URIs and strings.
    auto append = [](std::string& out, std::string_view key, std::string_view value) {
        if (!out.empty()) out += ' ';
        out += key;
        out += "='";
        for (char c : value) {
            if (c == '\'' || c == '\\') out += '\\';
            out += c;
        }
        out += '\'';
    };
    std::string out;
    for (const PQconninfoOption* o = options; o->keyword; ++o) {
        if (o->val && std::string_view(o->keyword) != "dbname") append(out, o->keyword, o->val);
    }
    append(out, "dbname", database);
    PQconninfoFree(options);
    return out;
}

}  // namespace lifeboat::postgres_physical
