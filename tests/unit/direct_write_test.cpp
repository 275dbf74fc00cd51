// io/direct_write.hpp: aligned blocks go past the page cache, everything else through it, the
// file holds exactly what was written either way, and a failed write fails the writer.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "io/direct_write.hpp"
#include "io/durable_file.hpp"
#include "io/file.hpp"
#include "util/fs.hpp"

namespace lifeboat {
namespace {

class CountingWriteback final : public FileSync {
  public:
    void start_writeback(int, std::uint64_t, std::uint64_t length) const override {
        m_bytes += length;
    }
    Status sync_file(int, const fs::path&) const override { return {}; }
    Status sync_directory(int, const fs::path&) const override { return {}; }
    std::uint64_t bytes() const { return m_bytes; }

  private:
    mutable std::atomic<std::uint64_t> m_bytes{0};
};

std::string pattern(std::size_t size, char seed) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>(seed + i * 7 % 251);
    return s;
}

class DirectWriteTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-direct-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        m_dir = ::open(m_scratch->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(m_dir, 0);
    }
    void TearDown() override {
        if (m_dir >= 0) ::close(m_dir);
    }

    std::shared_ptr<File> open(const char* name, bool direct) {
        const int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
        const int fd =
            direct ? open_for_direct_write(m_dir, name, flags) : ::openat(m_dir, name, flags, 0600);
        EXPECT_GE(fd, 0) << name;
        return std::make_shared<File>(File::adopt(fd, m_scratch->path() / name));
    }
    static bool is_direct(const File& file) {
        return (::fcntl(file.descriptor(), F_GETFL) & O_DIRECT) != 0;
    }
    std::string contents(const char* name) const {
        auto text = read_file(m_scratch->path() / name);
        EXPECT_TRUE(text) << text.error().message;
        return text ? *text : std::string();
    }

    std::optional<TempDirectory> m_scratch;
    int m_dir = -1;
    CountingWriteback sync;
};

TEST_F(DirectWriteTest, AlignedBlocksBypassThePageCacheAndTheTailDoesNot) {
    auto file = open("relation", true);
    if (!is_direct(*file)) GTEST_SKIP() << "this file system refuses O_DIRECT";
    BackgroundWriter writer(sync, 3, 2);
    const std::string a = pattern(8192, 'a'), b = pattern(16384, 'b'), tail = pattern(100, 't');
    // Out of order, as workers write them, and from a source that is not aligned itself.
    const std::string shifted = "x" + b;
    ASSERT_TRUE(writer.submit(file, 8192, std::string_view(shifted).substr(1)));
    ASSERT_TRUE(writer.submit(file, 0, a));
    ASSERT_TRUE(writer.submit(file, 24576, tail));
    ASSERT_TRUE(writer.finish());
    EXPECT_EQ(writer.direct_bytes(), 24576u);
    EXPECT_EQ(writer.buffered_bytes(), 100u);
    EXPECT_EQ(sync.bytes(), 100u);  // write-back asked only for what went through the cache
    EXPECT_TRUE(is_direct(*file)) << "the descriptor keeps O_DIRECT after a buffered write";
    ASSERT_TRUE(file->close());
    EXPECT_EQ(contents("relation"), a + b + tail);
}

TEST_F(DirectWriteTest, AnUnalignedOffsetGoesThroughThePageCache) {
    BackgroundWriter writer(sync, 2, 4);
    const std::string head = pattern(10, 'h'), body = pattern(4096, 'p');
    ASSERT_TRUE(writer.submit(open("config", true), 0, head));
    ASSERT_TRUE(writer.submit(open("config", true), 10, body));
    ASSERT_TRUE(writer.finish());
    EXPECT_EQ(writer.direct_bytes(), 0u);
    EXPECT_EQ(writer.buffered_bytes(), 4106u);
    EXPECT_EQ(contents("config"), head + body);
}

TEST_F(DirectWriteTest, ABufferedDescriptorStaysBuffered) {
    auto file = open("plain", false);
    BackgroundWriter writer(sync, 1, 1);
    const std::string block = pattern(262144, 'q');
    ASSERT_TRUE(writer.submit(file, 0, block));
    ASSERT_TRUE(writer.submit(file, 262144, block));
    ASSERT_TRUE(writer.finish());
    EXPECT_EQ(writer.direct_bytes(), 0u);
    EXPECT_EQ(sync.bytes(), 524288u);
    EXPECT_FALSE(is_direct(*file));
    file.reset();
    EXPECT_EQ(contents("plain"), block + block);
}

TEST_F(DirectWriteTest, ManyBlocksThroughFewBuffersArriveIntact) {
    auto file = open("large", true);
    BackgroundWriter writer(sync, 4, 4);
    std::string want;
    for (int i = 0; i < 64; ++i)
        want += pattern(65536, static_cast<char>('A' + i % 26));
    for (int i = 63; i >= 0; --i) {  // backwards: no write extends the file in order
        const auto offset = static_cast<std::uint64_t>(i) * 65536;
        ASSERT_TRUE(writer.submit(file, offset, std::string_view(want).substr(offset, 65536)));
    }
    ASSERT_TRUE(writer.finish());
    EXPECT_EQ(writer.direct_bytes() + writer.buffered_bytes(), want.size());
    file.reset();
    EXPECT_EQ(contents("large"), want);
}

TEST_F(DirectWriteTest, AFailedWriteIsAnIoErrorNamingTheFile) {
    ASSERT_TRUE(write_file_atomic(m_scratch->path() / "read-only", "x"));
    const int fd = ::openat(m_dir, "read-only", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto file = std::make_shared<File>(File::adopt(fd, m_scratch->path() / "read-only"));
    for (const std::uint64_t offset : {0ull, 3ull}) {
        BackgroundWriter writer(sync, 2, 2);
        ASSERT_TRUE(writer.submit(file, offset, pattern(4096, 'r')));  // fails on its thread
        auto status = writer.finish();
        ASSERT_FALSE(status);
        EXPECT_EQ(status.error().code, ErrorCode::io);
        EXPECT_NE(status.error().message.find("read-only"), std::string::npos)
            << status.error().message;
        // After the failure nothing more is queued: submit returns it.
        auto again = writer.submit(file, 0, pattern(4096, 's'));
        ASSERT_FALSE(again);
        EXPECT_EQ(again.error().code, ErrorCode::io);
    }
}

}  // namespace
}  // namespace lifeboat
