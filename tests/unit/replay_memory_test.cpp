// The shared_buffers a restored PostgreSQL instance replays its WAL with (issue 16, item 2):
// reading the configured value from the restored files, PostgreSQL's memory units, the memory
// the machine (or its control group) has available, and the automatic choice.
#include <gtest/gtest.h>

#include <string>

#include "drivers/postgres_physical/replay_memory.hpp"
#include "sources/postgres/server_config.hpp"
#include "util/fs.hpp"
#include "util/machine.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;

namespace {

constexpr std::uint64_t k_mib = 1ull << 20;
constexpr std::uint64_t k_gib = 1ull << 30;

TEST(ServerConfig, LastSettingValueReadsQuotedUnquotedAndCommentedForms) {
    const std::string text =
        "# shared_buffers = 1GB\n"
        "shared_buffers = 128MB   # the default\n"
        "work_mem='4MB'\n"
        "Shared_Buffers '256MB'\n"
        "  shared_buffersX = 2GB\n"
        "log_line_prefix = 'it''s %m '  # quoted\n";
    EXPECT_EQ(postgres::last_setting_value(text, "shared_buffers"), "256MB");
    EXPECT_EQ(postgres::last_setting_value(text, "work_mem"), "4MB");
    EXPECT_EQ(postgres::last_setting_value(text, "log_line_prefix"), "it's %m ");
    EXPECT_FALSE(postgres::last_setting_value(text, "effective_cache_size"));
    EXPECT_FALSE(postgres::last_setting_value("", "shared_buffers"));
}

TEST(ServerConfig, IncludeDirectivesAreFound) {
    EXPECT_TRUE(postgres::has_include_directive("a = 1\ninclude 'other.conf'\n"));
    EXPECT_TRUE(postgres::has_include_directive("include_dir = 'conf.d'"));
    EXPECT_TRUE(postgres::has_include_directive("INCLUDE_IF_EXISTS 'x.conf'"));
    EXPECT_FALSE(postgres::has_include_directive("# include 'other.conf'\nincluded = on\n"));
}

TEST(ServerConfig, MemorySizesInPostgresUnits) {
    EXPECT_EQ(postgres::parse_memory_size("128MB", 8192), 128 * k_mib);
    EXPECT_EQ(postgres::parse_memory_size("1GB", 8192), k_gib);
    EXPECT_EQ(postgres::parse_memory_size("64kB", 8192), 64u * 1024);
    EXPECT_EQ(postgres::parse_memory_size("2 TB", 8192), 2 * 1024 * k_gib);
    EXPECT_EQ(postgres::parse_memory_size("8192B", 8192), 8192u);
    EXPECT_EQ(postgres::parse_memory_size("16384", 8192), 128 * k_mib);  // pages
    EXPECT_FALSE(postgres::parse_memory_size("16384", 0));               // a unit is required
    EXPECT_FALSE(postgres::parse_memory_size("1gb", 8192));  // PostgreSQL's units are exact
    EXPECT_FALSE(postgres::parse_memory_size("MB", 8192));
    EXPECT_FALSE(postgres::parse_memory_size("-1MB", 8192));
    EXPECT_FALSE(postgres::parse_memory_size("1.5GB", 8192));
    EXPECT_FALSE(postgres::parse_memory_size("99999999999999TB", 8192));  // overflows
}

TEST(Machine, MemAvailableAndControlGroupRoom) {
    EXPECT_EQ(meminfo_available("MemTotal:       24576000 kB\nMemFree:  100 kB\n"
                                "MemAvailable:   20000000 kB\nBuffers: 1 kB\n"),
              20000000ull * 1024);
    EXPECT_FALSE(meminfo_available("MemTotal: 1 kB\n"));
    EXPECT_EQ(cgroup_room("2147483648\n", "1073741824\n"), k_gib);
    EXPECT_EQ(cgroup_room("1073741824\n", "2147483648\n"), 0u);  // over its limit
    EXPECT_FALSE(cgroup_room("max\n", "1073741824\n"));          // no limit
    const auto here = available_memory();
    ASSERT_TRUE(here) << "this machine's /proc/meminfo has no MemAvailable";
    EXPECT_GT(*here, 0u);
}

TEST(ReplayMemory, AutomaticIsTheDataCappedAt512MiBAndAQuarterOfAvailableNeverBelowConfigured) {
    // The data's size, rounded up to whole MiB.
    EXPECT_EQ(automatic_replay_buffers(128 * k_mib, 20 * k_gib, 300 * k_mib + 1), 301 * k_mib);
    // 512 MiB at most, however large the data and the memory.
    EXPECT_EQ(automatic_replay_buffers(128 * k_mib, 20 * k_gib, 1536 * k_mib), 512 * k_mib);
    EXPECT_EQ(automatic_replay_buffers(128 * k_mib, 64 * k_gib, 15 * k_gib), 512 * k_mib);
    // A quarter of what is available at most.
    EXPECT_EQ(automatic_replay_buffers(128 * k_mib, k_gib, 15 * k_gib), 256 * k_mib);
    // Never lowered, never merely kept.
    EXPECT_FALSE(automatic_replay_buffers(4 * k_gib, 20 * k_gib, 2 * k_gib));
    EXPECT_FALSE(automatic_replay_buffers(512 * k_mib, 20 * k_gib, 2 * k_gib));
    EXPECT_FALSE(automatic_replay_buffers(128 * k_mib, 20 * k_gib, 100 * k_mib));
    EXPECT_FALSE(automatic_replay_buffers(128 * k_mib, 256 * k_mib, 15 * k_gib));
    // Unknown configured value or available memory: left alone.
    EXPECT_FALSE(automatic_replay_buffers(std::nullopt, 20 * k_gib, 15 * k_gib));
    EXPECT_FALSE(automatic_replay_buffers(128 * k_mib, std::nullopt, 15 * k_gib));
}

class ReplayMemoryFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = fs::path(::testing::TempDir()) /
                ("replay-memory-" +
                 std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }
    void write(const char* name, const std::string& text) {
        ASSERT_TRUE(write_file_atomic(m_dir / name, text));
    }
    fs::path m_dir;
};

TEST_F(ReplayMemoryFiles, ConfiguredValueIsTheLastSettingOfTheTwoFiles) {
    EXPECT_EQ(configured_shared_buffers(m_dir), k_default_shared_buffers);  // no files
    write("postgresql.conf", "shared_buffers = 256MB\n");
    EXPECT_EQ(configured_shared_buffers(m_dir), 256 * k_mib);
    write("postgresql.auto.conf", "shared_buffers = '65536'\n");  // pages: 512 MiB
    EXPECT_EQ(configured_shared_buffers(m_dir), 512 * k_mib);
}

TEST_F(ReplayMemoryFiles, UnreadableOrIncludedConfigurationIsUnknown) {
    write("postgresql.conf", "shared_buffers = 256MB\ninclude 'tuning.conf'\n");
    EXPECT_FALSE(configured_shared_buffers(m_dir));
    write("postgresql.conf", "shared_buffers = lots\n");
    EXPECT_FALSE(configured_shared_buffers(m_dir));
    // Unknown means unchanged, however much memory there is.
    EXPECT_FALSE(replay_buffers_for({}, m_dir, 100 * k_gib));
}

TEST_F(ReplayMemoryFiles, ModesChooseAutomaticConfiguredOrFixed) {
    write("postgresql.conf", "shared_buffers = 1MB\n");
    using Mode = source::ReplayMemory::Mode;
    EXPECT_FALSE(replay_buffers_for({.mode = Mode::configured}, m_dir, 100 * k_gib));
    EXPECT_EQ(replay_buffers_for({.mode = Mode::fixed, .bytes = 300 * k_mib}, m_dir, 1),
              300 * k_mib);
    // Automatic on this machine: above 1 MB for 64 MiB of data unless memory is very short.
    const auto chosen = replay_buffers_for({}, m_dir, 64 * k_mib);
    if (available_memory().value_or(0) >= k_gib) EXPECT_EQ(chosen, 64 * k_mib);
}

}  // namespace
