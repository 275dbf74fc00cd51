#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "postgres_test_cluster.hpp"
#include "sources/postgres/page_checksum.hpp"
#include "sources/postgres/relation_file.hpp"
#include "util/fs.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

namespace {

constexpr std::uint64_t k_verify_everything = std::numeric_limits<std::uint64_t>::max();

void put_u16(std::string& page, std::size_t at, std::uint16_t v) {
    std::memcpy(&page[at], &v, 2);
}
void put_u32(std::string& page, std::size_t at, std::uint32_t v) {
    std::memcpy(&page[at], &v, 4);
}

const unsigned char* bytes(const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// An initialised page with some content, checksummed for `block`.
std::string synthetic_page(std::uint32_t block, std::uint64_t lsn) {
    std::string page(k_page_size, '\0');
    for (std::size_t i = 24; i < page.size(); ++i)
        page[i] = static_cast<char>(i * 7 + 3);
    put_u32(page, 0, static_cast<std::uint32_t>(lsn >> 32));
    put_u32(page, 4, static_cast<std::uint32_t>(lsn));
    put_u16(page, 12, 28);    // pd_lower
    put_u16(page, 14, 8000);  // pd_upper
    put_u16(page, 16, 8192);  // pd_special
    put_u16(page, 8, page_checksum(bytes(page), block));
    return page;
}

}  // namespace

TEST(PageChecksum, SyntheticPages) {
    std::string page = synthetic_page(7, 0x100000028);
    EXPECT_EQ(page_lsn(bytes(page)), 0x100000028u);
    EXPECT_EQ(verify_page(bytes(page), 7, 0x200000000), PageVerdict::ok);
    // The stored checksum does not take part in the computation.
    EXPECT_EQ(page_checksum(bytes(page), 7), stored_page_checksum(bytes(page)));
    // The block number is mixed in: the same page elsewhere fails.
    EXPECT_EQ(verify_page(bytes(page), 8, 0x200000000), PageVerdict::bad_checksum);
    // Written after the backup started: not checked.
    EXPECT_EQ(verify_page(bytes(page), 8, 0x100000028), PageVerdict::skipped_recent);
    page[5000] ^= 0x01;
    EXPECT_EQ(verify_page(bytes(page), 7, 0x200000000), PageVerdict::bad_checksum);

    const std::string zeros(k_page_size, '\0');
    EXPECT_EQ(verify_page(bytes(zeros), 3, 0x200000000), PageVerdict::new_page);
    std::string upper_zero = synthetic_page(3, 1);
    put_u16(upper_zero, 14, 0);
    EXPECT_EQ(verify_page(bytes(upper_zero), 3, 0x200000000), PageVerdict::new_page);
}

TEST(PageChecksum, NeverZeroAndUnalignedInput) {
    std::string buffer(k_page_size + 1, '\0');
    const std::string page = synthetic_page(1, 5);
    std::memcpy(buffer.data() + 1, page.data(), page.size());
    EXPECT_EQ(page_checksum(bytes(buffer) + 1, 1), page_checksum(bytes(page), 1));
    for (std::uint32_t block = 0; block < 2000; ++block) {
        EXPECT_NE(page_checksum(bytes(page), block), 0);
    }
}

// Reference values: pages of a cluster initialised by PostgreSQL's own initdb with checksums.
class PageChecksumCluster : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!pgtest::TestCluster::available()) return;
        auto cluster = pgtest::TestCluster::init({"-k"});
        ASSERT_TRUE(cluster) << cluster.error().message;
        s_cluster = cluster->release();
    }
    static void TearDownTestSuite() {
        delete s_cluster;
        s_cluster = nullptr;
    }
    void SetUp() override {
        if (!pgtest::TestCluster::available()) GTEST_SKIP() << "PostgreSQL 15 is not installed";
        ASSERT_NE(s_cluster, nullptr);
    }
    static pgtest::TestCluster* s_cluster;
};
pgtest::TestCluster* PageChecksumCluster::s_cluster = nullptr;

TEST_F(PageChecksumCluster, EveryPageOfTemplate1Verifies) {
    const fs::path data = s_cluster->data_dir();
    std::size_t ok = 0, fresh = 0, files = 0;
    std::string corrupt_candidate;  // a relation file with a verified page, for the next step
    std::uint32_t corrupt_block = 0;
    std::size_t corrupt_offset = 0;
    for (const auto& entry : fs::directory_iterator(data / "base" / "1")) {
        const std::string relative = "base/1/" + entry.path().filename().string();
        const auto relation = parse_relation_file(relative);
        if (!relation) continue;
        ++files;
        const auto content = read_file(entry.path());
        ASSERT_TRUE(content) << content.error().message;
        ASSERT_EQ(content->size() % k_page_size, 0u) << relative;
        for (std::size_t i = 0; i * k_page_size < content->size(); ++i) {
            const auto* page = bytes(*content) + i * k_page_size;
            const auto block =
                relation->segment * k_blocks_per_segment + static_cast<std::uint32_t>(i);
            const auto verdict = verify_page(page, block, k_verify_everything);
            ASSERT_TRUE(verdict == PageVerdict::ok || verdict == PageVerdict::new_page)
                << relative << " block " << block;
            if (verdict == PageVerdict::ok) {
                ++ok;
                if (corrupt_candidate.empty()) {
                    corrupt_candidate = relative;
                    corrupt_block = block;
                    corrupt_offset = i * k_page_size;
                }
            } else {
                ++fresh;
            }
        }
    }
    EXPECT_GT(files, 100u);
    EXPECT_GT(ok, 200u);
    ASSERT_FALSE(corrupt_candidate.empty());

    // A copy with one flipped byte in a verified page is reported.
    const auto content = read_file(data / corrupt_candidate);
    ASSERT_TRUE(content);
    std::string copy = *content;
    copy[corrupt_offset + 4321] = static_cast<char>(copy[corrupt_offset + 4321] ^ 0x20);
    const auto* page = bytes(copy) + corrupt_offset;
    EXPECT_EQ(verify_page(page, corrupt_block, k_verify_everything), PageVerdict::bad_checksum);
    // ...unless it was written after the backup started.
    EXPECT_EQ(verify_page(page, corrupt_block, page_lsn(page)), PageVerdict::skipped_recent);
}
