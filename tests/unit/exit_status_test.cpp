// Exit statuses (src/util/error.cpp) against the table in docs/cli.md, "Exit statuses": the test
// reads the document, so the code and the documentation cannot drift apart.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "util/error.hpp"

using namespace lifeboat;

namespace {

// status -> meaning, from the rows of the "Exit statuses" table.
std::map<int, std::string> documented_statuses() {
    std::ifstream in(std::string(LIFEBOAT_TEST_DATA) + "/../../docs/cli.md");
    EXPECT_TRUE(in) << "cannot read docs/cli.md";
    std::map<int, std::string> table;
    std::string line;
    bool in_section = false;
    const std::regex row(R"(^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$)");
    while (std::getline(in, line)) {
        if (line.rfind("## ", 0) == 0) in_section = line == "## Exit statuses";
        std::smatch match;
        if (in_section && std::regex_match(line, match, row))
            table[std::stoi(match[1].str())] = match[2].str();
    }
    return table;
}

// Every code of the catalogue, and words its documented meaning must contain.
struct Expectation {
    ErrorCode code;
    const char* meaning;
};
constexpr Expectation k_catalogue[] = {
    {ErrorCode::usage, "usage"},
    {ErrorCode::config, "configuration"},
    {ErrorCode::not_found, "not found"},
    {ErrorCode::not_a_repository, "not a repository"},
    {ErrorCode::repository, "repository I/O failure"},
    {ErrorCode::corrupt, "corruption"},
    {ErrorCode::conflict, "conflict"},
    {ErrorCode::database, "database"},
    {ErrorCode::outside_window, "outside the restorable window"},
    {ErrorCode::check_failed, "checks failed"},
    {ErrorCode::io, "local file-system failure"},
    {ErrorCode::interrupted, "signal"},
    {ErrorCode::unavailable, "temporarily unavailable"},
    {ErrorCode::read_only, "read-only"},
    {ErrorCode::unsupported, "unsupported"},
    {ErrorCode::internal, "internal error"},
};

}  // namespace

TEST(ExitStatus, EveryErrorCodeExitsWithTheStatusDocumentedForItsMeaning) {
    const auto table = documented_statuses();
    ASSERT_GE(table.size(), 10u) << "the table in docs/cli.md was not found";
    // The catalogue above must name every code (the enum is contiguous up to `internal`).
    ASSERT_EQ(std::size(k_catalogue), static_cast<std::size_t>(ErrorCode::internal) + 1);
    std::map<int, int> uses;
    for (const auto& [code, meaning] : k_catalogue) {
        const int status = exit_status(code);
        ++uses[status];
        const auto row = table.find(status);
        ASSERT_NE(row, table.end())
            << error_code_name(code) << " exits " << status << ", which docs/cli.md does not list";
        EXPECT_NE(row->second.find(meaning), std::string::npos)
            << error_code_name(code) << " exits " << status << ", documented as '" << row->second
            << "', not as " << meaning;
    }
    for (const auto& [status, count] : uses)
        EXPECT_EQ(count, 1) << "two codes share exit status " << status;
    // And every documented failure status is produced by some code.
    for (const auto& [status, meaning] : table) {
        if (status == 0) continue;
        EXPECT_TRUE(uses.count(status))
            << "docs/cli.md lists " << status << " (" << meaning << "), which no error produces";
    }
}
