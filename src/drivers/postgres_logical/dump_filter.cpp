#include "drivers/postgres_logical/dump_filter.hpp"

#include <array>
#include <vector>

namespace lifeboat::postgres_logical {

namespace {

constexpr std::string_view k_header = "--\n-- Name: ";

struct Entry {
    std::string_view text;
    std::string name;
    std::string type;
    std::string schema;
};

// The value of `field` ("Type: ") in a header line, up to the next ';' or the end.
std::string field(std::string_view header, std::string_view key) {
    const auto at = header.find(key);
    if (at == std::string_view::npos) return {};
    const auto from = at + key.size();
    const auto end = header.find(';', from);
    return std::string(header.substr(from, end == std::string_view::npos ? end : end - from));
}

bool is_identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '"' || static_cast<unsigned char>(c) >= 0x80;
}

// Whether `text` names `qualified` as a whole identifier (not as the prefix of a longer one).
bool mentions(std::string_view text, std::string_view qualified) {
    for (auto at = text.find(qualified); at != std::string_view::npos;
         at = text.find(qualified, at + 1)) {
        const bool starts = at == 0 || (!is_identifier_char(text[at - 1]) && text[at - 1] != '.');
        const auto after = at + qualified.size();
        const bool ends = after == text.size() || !is_identifier_char(text[after]);
        if (starts && ends) return true;
    }
    return false;
}

bool table_bound(const Entry& e) {
    static constexpr std::array<std::string_view, 16> k_types = {
        "TABLE",        "DEFAULT",           "CONSTRAINT",   "FK CONSTRAINT",
        "INDEX",        "TRIGGER",           "RULE",         "POLICY",
        "ROW SECURITY", "SEQUENCE OWNED BY", "TABLE ATTACH", "INDEX ATTACH",
        "STATISTICS",   "MATERIALIZED VIEW", "VIEW",         "PUBLICATION TABLE"};
    for (auto t : k_types)
        if (e.type == t) return true;
    if (e.type == "COMMENT" || e.type == "ACL" || e.type == "SECURITY LABEL") {
        static constexpr std::array<std::string_view, 9> k_bound = {
            "TABLE ",   "COLUMN ", "VIEW ", "MATERIALIZED VIEW ", "INDEX ", "CONSTRAINT ",
            "TRIGGER ", "POLICY ", "RULE "};
        for (auto prefix : k_bound)
            if (e.name.starts_with(prefix)) return true;
    }
    return false;
}

struct Script {
    std::string_view preamble;
    std::vector<Entry> entries;
};

Script parse_script(std::string_view script) {
    Script parsed;
    auto at = script.find(k_header);
    parsed.preamble = script.substr(0, at);
    while (at != std::string_view::npos) {
        const auto next = script.find(k_header, at + k_header.size());
        Entry e;
        e.text = script.substr(at, next == std::string_view::npos ? next : next - at);
        const auto line_end = e.text.find('\n', 3);
        const std::string_view header = e.text.substr(3, line_end - 3);
        e.name = field(header, "Name: ");
        e.type = field(header, "Type: ");
        e.schema = field(header, "Schema: ");
        parsed.entries.push_back(std::move(e));
        at = next;
    }
    return parsed;
}

// Whether a line of an entry is an "ALTER <object> ... OWNER TO <role>;" statement.
bool is_owner_line(std::string_view line) {
    return line.starts_with("ALTER ") && line.find(" OWNER TO ") != std::string_view::npos &&
           line.ends_with(";");
}

}  // namespace

std::string dump_identifier(std::string_view name) {
    bool plain = !name.empty() && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
    for (char c : name)
        plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (plain) return std::string(name);
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

std::string filter_dump_for_table(std::string_view script, std::string_view schema,
                                  std::string_view table) {
    const Script parsed = parse_script(script);
    std::string out(parsed.preamble);
    const std::string qualified = dump_identifier(schema) + "." + dump_identifier(table);
    for (const Entry& e : parsed.entries) {
        bool keep = true;
        if (e.type == "TABLE") {
            keep = e.name == table && e.schema == schema;
        } else if (e.type == "FK CONSTRAINT" || e.type == "VIEW" || e.type == "MATERIALIZED VIEW") {
            keep = false;
        } else if (table_bound(e) ||
                   (e.type == "SEQUENCE" && e.text.find("ALTER TABLE") != std::string_view::npos)) {
            keep = mentions(e.text.substr(e.text.find('\n', 3)), qualified);
        }
        if (keep) out += e.text;
    }
    return out;
}

OwnershipSplit split_ownership(std::string_view script) {
    const Script parsed = parse_script(script);
    OwnershipSplit out{std::string(parsed.preamble), std::string(parsed.preamble)};
    for (const Entry& e : parsed.entries) {
        if (e.type == "ACL" || e.type == "DEFAULT ACL") {
            out.ownership += e.text;
            continue;
        }
        // The entry's owner lines go to the second script under a copy of its header, so that
        // filter_dump_for_table treats both halves alike.
        std::string owner_lines;
        std::size_t from = 0;
        while (from < e.text.size()) {
            auto end = e.text.find('\n', from);
            end = end == std::string_view::npos ? e.text.size() : end + 1;
            const std::string_view line = e.text.substr(from, end - from);
            std::string_view bare = line;
            while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r'))
                bare.remove_suffix(1);
            (is_owner_line(bare) ? owner_lines : out.objects) += line;
            from = end;
        }
        if (!owner_lines.empty()) {
            // "--\n-- Name: ...\n--\n": up to the third newline.
            std::size_t header_end = 0;
            for (int i = 0; i < 3 && header_end != std::string_view::npos; ++i)
                header_end = e.text.find('\n', header_end) + 1;
            out.ownership += e.text.substr(0, header_end);
            out.ownership += "\n" + owner_lines + "\n";
        }
    }
    return out;
}

std::string tolerate_existing_roles(std::string_view script) {
    std::string out;
    std::size_t from = 0;
    while (from < script.size()) {
        auto end = script.find('\n', from);
        end = end == std::string_view::npos ? script.size() : end + 1;
        const std::string_view line = script.substr(from, end - from);
        std::string_view bare = line;
        while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r'))
            bare.remove_suffix(1);
        if (bare.starts_with("CREATE ROLE ") && bare.ends_with(";")) {
            out += "DO $lifeboat$ BEGIN ";
            out += bare;
            out += " EXCEPTION WHEN duplicate_object THEN NULL; END $lifeboat$;\n";
        } else {
            out += line;
        }
        from = end;
    }
    return out;
}

std::string guard_missing_sequences(std::string_view script) {
    constexpr std::string_view call = "pg_catalog.setval('";
    std::string out;
    std::size_t from = 0;
    for (auto at = script.find(call); at != std::string_view::npos; at = script.find(call, from)) {
        // The name literal ends at the first quote not doubled.
        std::size_t end = at + call.size();
        while (end < script.size()) {
            if (script[end] == '\'' && end + 1 < script.size() && script[end + 1] == '\'') {
                end += 2;
            } else if (script[end] == '\'') {
                break;
            } else {
                ++end;
            }
        }
        if (end >= script.size()) break;
        out += script.substr(from, at - from);
        out += "pg_catalog.setval(pg_catalog.to_regclass(";
        out += script.substr(at + call.size() - 1, end + 1 - (at + call.size() - 1));
        out += ")";
        from = end + 1;
    }
    out += script.substr(from);
    return out;
}

}  // namespace lifeboat::postgres_logical
