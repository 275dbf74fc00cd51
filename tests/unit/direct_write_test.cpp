// io/direct_write.hpp: aligned blocks go past the page cache, everything else through it, and
// the file holds exactly what was written either way.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>

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

    File open(const char* name, bool direct) {
        const int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
        const int fd =
            direct ? open_for_direct_write(m_dir, name, flags) : ::openat(m_dir, name, flags, 0600);
        EXPECT_GE(fd, 0) << name;
        return File::adopt(fd, m_scratch->path() / name);
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
    File file = open("relation", true);
    if (!is_direct(file)) GTEST_SKIP() << "this file system refuses O_DIRECT";
    DirectWriteBuffer buffer;
    const std::string a = pattern(8192, 'a'), b = pattern(16384, 'b'), tail = pattern(100, 't');
    // Out of order, as workers write them, and from a source that is not aligned itself.
    const std::string shifted = "x" + b;
    ASSERT_TRUE(buffer.write(file, 8192, std::string_view(shifted).substr(1), sync));
    ASSERT_TRUE(buffer.write(file, 0, a, sync));
    ASSERT_TRUE(buffer.write(file, 24576, tail, sync));
    EXPECT_EQ(buffer.direct_bytes(), 24576u);
    EXPECT_EQ(buffer.buffered_bytes(), 100u);
    EXPECT_EQ(sync.bytes(), 100u);  // write-back asked only for what went through the cache
    EXPECT_TRUE(is_direct(file)) << "the descriptor keeps O_DIRECT after a buffered write";
    ASSERT_TRUE(file.close());
    EXPECT_EQ(contents("relation"), a + b + tail);
}

TEST_F(DirectWriteTest, AnUnalignedOffsetGoesThroughThePageCache) {
    File file = open("config", true);
    DirectWriteBuffer buffer;
    const std::string head = pattern(10, 'h'), body = pattern(4096, 'p');
    ASSERT_TRUE(buffer.write(file, 0, head, sync));
    ASSERT_TRUE(buffer.write(file, 10, body, sync));
    EXPECT_EQ(buffer.direct_bytes(), 0u);
    EXPECT_EQ(buffer.buffered_bytes(), 4106u);
    ASSERT_TRUE(file.close());
    EXPECT_EQ(contents("config"), head + body);
}

TEST_F(DirectWriteTest, ABufferedDescriptorStaysBuffered) {
    File file = open("plain", false);
    DirectWriteBuffer buffer;
    const std::string block = pattern(262144, 'q');
    ASSERT_TRUE(buffer.write(file, 0, block, sync));
    ASSERT_TRUE(buffer.write(file, 262144, block, sync));
    EXPECT_EQ(buffer.direct_bytes(), 0u);
    EXPECT_EQ(sync.bytes(), 524288u);
    EXPECT_FALSE(is_direct(file));
    ASSERT_TRUE(file.close());
    EXPECT_EQ(contents("plain"), block + block);
}

TEST_F(DirectWriteTest, AFailedWriteIsAnIoErrorNamingTheFile) {
    ASSERT_TRUE(write_file_atomic(m_scratch->path() / "read-only", "x"));
    const int fd = ::openat(m_dir, "read-only", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    File file = File::adopt(fd, m_scratch->path() / "read-only");
    DirectWriteBuffer buffer;
    for (const std::uint64_t offset : {0ull, 3ull}) {
        auto status = buffer.write(file, offset, pattern(4096, 'r'), sync);
        ASSERT_FALSE(status);
        EXPECT_EQ(status.error().code, ErrorCode::io);
        EXPECT_NE(status.error().message.find("read-only"), std::string::npos)
            << status.error().message;
    }
}

}  // namespace
}  // namespace lifeboat
