// put_leading_options_after_command: options before the command mean what they mean after it.
// The shape here is hand-made in the form main.cpp derives from the CLI11 definitions.
#include "cli/leading_options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace lifeboat;
using namespace lifeboat::cli;

namespace {

using Words = std::vector<std::string>;

OptionShape value(const std::string& name) {
    return {.name = "--" + name,
            .long_names = {name},
            .short_names = {},
            .min_values = 1,
            .max_values = 1,
            .repeat = Repeat::once};
}
OptionShape repeatable(const std::string& name) {
    auto o = value(name);
    o.repeat = Repeat::many;
    return o;
}
OptionShape flag(const std::string& name) {
    return {.name = "--" + name, .long_names = {name}, .short_names = {}};
}
OptionShape help() {
    return {.name = "--help", .long_names = {"help"}, .short_names = {"h"}};
}

CommandLineShape shape() {
    CommandLineShape s;
    s.program_options = {help(), flag("version")};
    s.commands.push_back(
        {.names = {"list", "info"},
         .options = {help(), value("repo"), value("config"), flag("json"), repeatable("tag")}});
    s.commands.push_back({.names = {"backup"},
                          .options = {help(), value("repo"), value("config"), value("pg"),
                                      flag("json"), repeatable("tag")}});
    s.commands.push_back({.names = {"wal-push"}, .options = {help(), value("repo")}});
    return s;
}

Words ordered(const Words& args) {
    auto out = put_leading_options_after_command(shape(), args);
    EXPECT_TRUE(out.has_value()) << out.error().message;
    return out ? *out : Words{};
}

std::string refused(const Words& args) {
    auto out = put_leading_options_after_command(shape(), args);
    EXPECT_FALSE(out.has_value());
    if (out) return "";
    EXPECT_EQ(out.error().code, ErrorCode::usage);
    EXPECT_EQ(out.error().message.find('\n'), std::string::npos);
    return out.error().message;
}

}  // namespace

TEST(LeadingOptions, LinesInOrderAreLeftAlone) {
    EXPECT_EQ(ordered({"list", "--repo", "R"}), (Words{"list", "--repo", "R"}));
    EXPECT_EQ(ordered({}), Words{});
    EXPECT_EQ(ordered({"--help"}), Words{"--help"});
    EXPECT_EQ(ordered({"-h"}), Words{"-h"});
    EXPECT_EQ(ordered({"--version"}), Words{"--version"});
    // Help without a command is the program's, whatever else was given.
    EXPECT_EQ(ordered({"--repo", "R", "-h"}), Words{"--help"});
}

TEST(LeadingOptions, OptionsBeforeTheCommandFollowIt) {
    EXPECT_EQ(ordered({"--repo", "R", "list"}), (Words{"list", "--repo", "R"}));
    EXPECT_EQ(ordered({"--repo", "R", "--json", "list"}), (Words{"list", "--repo", "R", "--json"}));
    EXPECT_EQ(ordered({"--repo=R", "info"}), (Words{"info", "--repo=R"}));
    EXPECT_EQ(ordered({"--config", "F", "--repo", "R", "backup", "--pg", "P"}),
              (Words{"backup", "--config", "F", "--repo", "R", "--pg", "P"}));
}

TEST(LeadingOptions, HelpBeforeACommandIsTheCommandsHelp) {
    EXPECT_EQ(ordered({"-h", "backup"}), (Words{"backup", "-h"}));
    EXPECT_EQ(ordered({"--help", "list"}), (Words{"list", "--help"}));
}

TEST(LeadingOptions, ProgramOnlyOptionsStayBeforeTheCommand) {
    EXPECT_EQ(ordered({"--version", "--repo", "R", "list"}),
              (Words{"--version", "list", "--repo", "R"}));
}

TEST(LeadingOptions, ValuesThatLookLikeCommandsAreValues) {
    EXPECT_EQ(ordered({"--repo", "list", "list"}), (Words{"list", "--repo", "list"}));
    EXPECT_EQ(ordered({"--repo", "backup", "list", "--json"}),
              (Words{"list", "--repo", "backup", "--json"}));
    // As the parser does after the command: a required value is taken whatever it looks like.
    EXPECT_EQ(ordered({"--repo", "--json", "list"}), (Words{"list", "--repo", "--json"}));
    EXPECT_EQ(ordered({"--repo", "-5", "list"}), (Words{"list", "--repo", "-5"}));
}

TEST(LeadingOptions, DoubleDashStillEndsOptionsAfterTheCommand) {
    EXPECT_EQ(ordered({"--repo", "R", "wal-push", "--", "--repo"}),
              (Words{"wal-push", "--repo", "R", "--", "--repo"}));
    // Not a repetition: after `--` it is an argument.
    EXPECT_EQ(ordered({"--repo", "R", "wal-push", "--", "-x"}),
              (Words{"wal-push", "--repo", "R", "--", "-x"}));
    EXPECT_NE(refused({"--repo", "R", "--", "list"}).find("'--'"), std::string::npos);
    EXPECT_NE(refused({"--", "list"}).find("goes after the command"), std::string::npos);
}

TEST(LeadingOptions, AnOptionTheCommandDoesNotTakeIsRefusedNamingBoth) {
    const auto message = refused({"--pg", "P", "--repo", "R", "list"});
    EXPECT_NE(message.find("--pg is not an option of 'list'"), std::string::npos) << message;
    EXPECT_NE(message.find("lifeboat list --help"), std::string::npos) << message;
    EXPECT_NE(refused({"--json", "wal-push", "x"}).find("--json is not an option of 'wal-push'"),
              std::string::npos);
    // Unknown to every command: still named with the command that follows.
    EXPECT_NE(refused({"--bogus", "list"}).find("--bogus is not an option of 'list'"),
              std::string::npos);
    EXPECT_NE(refused({"--bogus"}).find("unknown option '--bogus'"), std::string::npos);
    // The program's own option is not a command's.
    EXPECT_EQ(ordered({"--version", "list"}), (Words{"--version", "list"}));
}

TEST(LeadingOptions, ASingleValueGivenBeforeAndAfterIsRefused) {
    const auto message = refused({"--repo", "A", "list", "--repo", "B"});
    EXPECT_NE(message.find("--repo is given both before and after 'list': give it once"),
              std::string::npos)
        << message;
    EXPECT_FALSE(
        put_leading_options_after_command(shape(), {"--repo=A", "list", "--json", "--repo=B"}));
    // Flags and repeatable options add up, as when both are written after the command.
    EXPECT_EQ(ordered({"--tag", "a=b", "list", "--tag", "c=d"}),
              (Words{"list", "--tag", "a=b", "--tag", "c=d"}));
    EXPECT_EQ(ordered({"--json", "list", "--json"}), (Words{"list", "--json", "--json"}));
    // A value equal to the option's name after the command is a value, not a repetition.
    EXPECT_EQ(ordered({"--config", "F", "list", "--repo", "--config"}),
              (Words{"list", "--config", "F", "--repo", "--config"}));
}

TEST(LeadingOptions, MissingPiecesAreNamed) {
    EXPECT_NE(refused({"--repo"}).find("--repo needs a value"), std::string::npos);
    EXPECT_NE(refused({"--repo", "R"}).find("no command given after --repo"), std::string::npos);
    EXPECT_NE(refused({"--repo", "R", "lsit"}).find("unknown command 'lsit'"), std::string::npos);
    EXPECT_NE(refused({"lsit"}).find("unknown command 'lsit'"), std::string::npos);
}

TEST(LeadingOptions, AnOptionReadDifferentlyByTwoCommandsIsRefusedBeforeTheCommand) {
    CommandLineShape s = shape();
    s.commands.push_back({.names = {"drill"}, .options = {flag("tag")}});
    auto out = put_leading_options_after_command(s, {"--tag", "x", "list"});
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message.find("--tag takes a different number of values"),
              std::string::npos);
    // After the command it is the command's own, unambiguous.
    EXPECT_TRUE(put_leading_options_after_command(s, {"list", "--tag", "x"}));
}
