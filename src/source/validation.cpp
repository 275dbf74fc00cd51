#include "source/validation.hpp"

#include <map>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace lifeboat::source {

std::vector<DatabaseSummary> summarize_databases(const std::vector<CheckOutcome>& checks,
                                                 const std::vector<TableCount>& tables) {
    std::vector<DatabaseSummary> out;
    auto find = [&](const std::string& database) -> DatabaseSummary& {
        for (auto& s : out)
            if (s.database == database) return s;
        out.push_back({database, 0, {}, {}, {}});
        return out.back();
    };
    for (const auto& c : checks) {
        if (c.database.empty()) continue;
        DatabaseSummary& s = find(c.database);
        auto& counts = !c.passed ? s.failed : c.skipped ? s.skipped : s.passed;
        ++counts[c.kind];
    }
    for (const auto& t : tables)
        ++find(t.database).tables;
    return out;
}

std::string summary_line(const DatabaseSummary& summary) {
    auto counts = [](const char* what, const std::map<std::string, std::size_t>& by_kind) {
        std::vector<std::string> parts;
        for (const auto& [kind, count] : by_kind)
            parts.push_back(fmt::format("{} {}", kind, count));
        return parts.empty() ? std::string() : fmt::format("; {} {}", what, fmt::join(parts, ", "));
    };
    return fmt::format("database {}: {}: {} tables counted{}{}{}", summary.database,
                       summary.ok() ? "passed" : "FAILED", summary.tables,
                       counts("passed", summary.passed), counts("failed", summary.failed),
                       counts("skipped", summary.skipped));
}

bool ValidationReport::passed() const {
    for (const auto& check : checks) {
        if (!check.passed) return false;
    }
    return true;
}

std::string ValidationReport::to_json() const {
    // Ordered: the members appear as documented, which is kinder to people reading the file.
    nlohmann::ordered_json out = {{"passed", passed()},
                                  {"databases", nlohmann::ordered_json::array()},
                                  {"tables", nlohmann::ordered_json::array()},
                                  {"checks", nlohmann::ordered_json::array()}};
    for (const auto& s : summarize_databases(checks, tables)) {
        // Every kind seen in this database, with all three counts (zeros included).
        nlohmann::ordered_json kinds = nlohmann::ordered_json::object();
        auto count = [](const std::map<std::string, std::size_t>& by_kind, const std::string& k) {
            const auto it = by_kind.find(k);
            return it == by_kind.end() ? std::size_t{0} : it->second;
        };
        for (const auto* by_kind : {&s.passed, &s.failed, &s.skipped}) {
            for (const auto& entry : *by_kind) {
                const std::string& kind = entry.first;
                kinds[kind] = {{"passed", count(s.passed, kind)},
                               {"failed", count(s.failed, kind)},
                               {"skipped", count(s.skipped, kind)}};
            }
        }
        out["databases"].push_back(
            {{"name", s.database}, {"passed", s.ok()}, {"tables", s.tables}, {"checks", kinds}});
    }
    for (const auto& t : tables) {
        out["tables"].push_back(
            {{"database", t.database}, {"schema", t.schema}, {"table", t.table}, {"rows", t.rows}});
    }
    for (const auto& c : checks) {
        out["checks"].push_back({{"kind", c.kind},
                                 {"name", c.name},
                                 {"database", c.database},
                                 {"passed", c.passed},
                                 {"detail", c.detail},
                                 {"skipped", c.skipped}});
    }
    // Replace invalid UTF-8 (a server in SQL_ASCII may return any bytes) instead of throwing.
    return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string ValidationReport::to_text() const {
    std::string out;
    std::map<std::string, std::size_t> passed_by_kind;
    std::size_t failed = 0;
    for (const auto& c : checks) {
        if (!c.passed) {
            ++failed;
            out += fmt::format("FAILED  {} {}: {}\n", c.kind, c.name, c.detail);
        } else if (c.skipped) {
            out += fmt::format("SKIPPED {} {}: {}\n", c.kind, c.name, c.detail);
        } else {
            ++passed_by_kind[c.kind];
        }
    }
    for (const auto& s : summarize_databases(checks, tables))
        out += summary_line(s) + "\n";
    std::vector<std::string> counts;
    for (const auto& [kind, count] : passed_by_kind)
        counts.push_back(fmt::format("{} {}", kind, count));
    out += fmt::format(
        "{} tables counted; passed checks: {}\n", tables.size(),
        counts.empty() ? std::string("none") : fmt::format("{}", fmt::join(counts, ", ")));
    out += failed == 0 ? std::string("PASSED\n")
                       : fmt::format("FAILED ({} of {} checks failed)\n", failed, checks.size());
    return out;
}

}  // namespace lifeboat::source
