// WAL that older versions let into a repository (issue 9, item 7): verify names it, repair moves
// what can never be restored aside, and wal-push then stores the right file under that name.
#include <gtest/gtest.h>

#include <cstring>

#include "drivers/postgres_physical/wal_transfer.hpp"
#include "engine/repair.hpp"
#include "engine/verify.hpp"
#include "repository/cluster_identity.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo::test_support;

namespace {

constexpr std::size_t k_page = 8192;
constexpr std::size_t k_segment = 1 << 20;

// A 1 MiB segment `segno` of timeline 1 from the cluster `system_identifier`, without records.
std::string segment(std::uint64_t segno, std::uint64_t system_identifier) {
    std::string s(k_segment, '\0');
    for (std::size_t at = 0; at < k_segment; at += k_page) {
        const std::uint16_t magic = 0xD110, info = at == 0 ? 0x0002 : 0;
        const std::uint32_t timeline = 1;
        const std::uint64_t address = segno * k_segment + at;
        std::memcpy(&s[at], &magic, 2);
        std::memcpy(&s[at + 2], &info, 2);
        std::memcpy(&s[at + 4], &timeline, 4);
        std::memcpy(&s[at + 8], &address, 8);
    }
    const std::uint32_t segment_size = k_segment, page_size = k_page;
    std::memcpy(&s[24], &system_identifier, 8);
    std::memcpy(&s[32], &segment_size, 4);
    std::memcpy(&s[36], &page_size, 4);
    return s;
}

class WalIntegrityTest : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        auto repository = repo::Repository::init(repo_path().string(), {});
        ASSERT_TRUE(repository) << repository.error().message;
    }
    // Stores an object the way older versions did: without any check of its content.
    void store_unchecked(const std::string& name, const std::string& content) {
        repo::WalMeta meta;
        meta.name = name;
        ASSERT_TRUE(repo::push_wal(storage(), meta, content, 1));
    }
    Result<repo::PushOutcome> push(const std::string& name, const std::string& content) {
        const fs::path file = scratch() / name;
        EXPECT_TRUE(write_file_atomic(file, content, Durability::none));
        auto repository = open();
        if (!repository) return std::unexpected(repository.error());
        return postgres_physical::wal_push(*repository, file, m_ctx);
    }
    Result<repo::Repository> open() { return repo::Repository::open(repo_path().string()); }
    Result<engine::VerifyReport> verify() {
        auto repository = open();
        if (!repository) return std::unexpected(repository.error());
        return engine::run_verify(*repository, {}, m_ctx);
    }
    Result<engine::RepairOutcome> repair(engine::RepairMode mode = engine::RepairMode::apply) {
        auto repository = open();
        if (!repository) return std::unexpected(repository.error());
        return engine::run_repair(*repository, {.mode = mode}, m_ctx);
    }
    OperationContext m_ctx;
};

}  // namespace

TEST_F(WalIntegrityTest, VerifyNamesAndRepairMovesWhatOlderVersionsStored) {
    ASSERT_TRUE(repo::record_cluster_identity(storage(), "1111"));
    store_unchecked("000000010000000000000005", segment(5, 1111));
    store_unchecked("000000010000000000000006", segment(6, 2222));  // another cluster
    store_unchecked("00000002.history", "garbage\n");

    auto report = verify();
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->problems.size(), 2u);
    std::string objects;
    for (const auto& p : report->problems)
        objects += p.object + " " + p.message + "\n";
    EXPECT_NE(objects.find("wal/history/00000002.history 00000002.history: not a timeline history"),
              std::string::npos)
        << objects;
    EXPECT_NE(objects.find("000000010000000000000006 WAL of another cluster (system identifier "
                           "2222, repository holds 1111)"),
              std::string::npos)
        << objects;

    // The right history cannot be pushed over the garbage one...
    const std::string history = "1\t0/5000000\tno recovery target specified\n";
    auto blocked = push("00000002.history", history);
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, ErrorCode::conflict);

    // ...until repair moves it aside (a dry run changes nothing).
    auto dry = repair(engine::RepairMode::dry_run);
    ASSERT_TRUE(dry) << dry.error().message;
    EXPECT_EQ(dry->moved.size(), 2u);
    EXPECT_TRUE(storage().stat("wal/history/00000002.history"));
    auto repaired = repair();
    ASSERT_TRUE(repaired) << repaired.error().message;
    ASSERT_EQ(repaired->moved.size(), 2u);
    EXPECT_TRUE(storage().stat("damaged/wal/history/00000002.history"));
    EXPECT_TRUE(storage().stat("damaged/wal/0000000100000000/000000010000000000000006"));
    EXPECT_TRUE(storage().stat("wal/0000000100000000/000000010000000000000005"));

    auto pushed = push("00000002.history", history);
    ASSERT_TRUE(pushed) << pushed.error().message;
    EXPECT_EQ(*pushed, repo::PushOutcome::stored);
    auto clean = verify();
    ASSERT_TRUE(clean) << clean.error().message;
    EXPECT_TRUE(clean->ok()) << clean->problems.front().object;
}

TEST_F(WalIntegrityTest, TheFirstPushRecordsTheClusterAndOthersAreRefused) {
    auto first = push("000000010000000000000005", segment(5, 1111));
    ASSERT_TRUE(first) << first.error().message;
    auto recorded = repo::read_cluster_identity(storage());
    ASSERT_TRUE(recorded && *recorded);
    EXPECT_EQ(**recorded, "1111");
    auto other = push("000000010000000000000006", segment(6, 2222));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, ErrorCode::conflict);
    EXPECT_FALSE(storage().stat("wal/0000000100000000/000000010000000000000006"));
    auto next = push("000000010000000000000006", segment(6, 1111));
    EXPECT_TRUE(next) << next.error().message;
}

TEST_F(WalIntegrityTest, ADamagedClusterIdentityIsNamedAndRepaired) {
    ASSERT_TRUE(push("000000010000000000000005", segment(5, 1111)));
    ASSERT_TRUE(write_file_atomic(repo_path() / "cluster", "LIFEBOAT", Durability::none));
    auto blocked = push("000000010000000000000006", segment(6, 1111));
    ASSERT_FALSE(blocked);
    EXPECT_NE(blocked.error().message.find("cluster"), std::string::npos)
        << blocked.error().message;
    auto report = verify();
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->problems.size(), 1u);
    EXPECT_EQ(report->problems[0].object, "cluster");
    auto repaired = repair();
    ASSERT_TRUE(repaired) << repaired.error().message;
    ASSERT_EQ(repaired->moved.size(), 1u);
    EXPECT_EQ(repaired->moved[0].moved_to, "damaged/cluster");
    // Recorded again from the WAL the repository holds: the same cluster goes in, another not.
    auto pushed = push("000000010000000000000006", segment(6, 1111));
    EXPECT_TRUE(pushed) << pushed.error().message;
    EXPECT_FALSE(push("000000010000000000000007", segment(7, 2222)));
}
