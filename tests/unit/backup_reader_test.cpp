// drivers/postgres_physical/backup_reader.hpp: a range read as ReadPattern::bounded brings
// nothing past its end into the page cache (the blocks there are taken from the previous backup;
// reading them would be wasted), where the kernel's read-ahead of a sequential read does.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fcntl.h>
#include <fmt/format.h>

#include <linux/magic.h>
#include <fstream>

#include "drivers/postgres_physical/backup_reader.hpp"
#include "io/file.hpp"
#include "util/fs.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_physical;

namespace {

constexpr std::uint32_t k_block = 256 * 1024;
constexpr std::uint64_t k_mib = 1024 * 1024;

class CountingSink : public source::ContentSink {
  public:
    std::uint32_t block_size() const override { return k_block; }
    unsigned workers() const override { return 1; }
    Result<repo::BlockId> store(std::string_view bytes, unsigned) override {
        stored += bytes.size();
        return repo::BlockId::of(bytes);
    }
    bool holds(const repo::BlockId&) const override { return false; }
    Status keep_going() override { return {}; }
    Result<bool> log_object_archived(const std::string&) const override { return false; }
    std::uint64_t stored = 0;
};

// A data file of `size` bytes on a disk-backed file system, out of the page cache; nullopt when
// the temporary directory is in memory or the cache will not let go of it.
struct ColdFile {
    TempDirectory dir;
    postgres::DataEntry entry;
};

std::optional<ColdFile> cold_file(std::uint64_t size) {
    ColdFile out{TempDirectory::create(fs::temp_directory_path(), "lb-reader-").value(), {}};
    struct statfs st {};
    if (::statfs(out.dir.path().c_str(), &st) != 0 || st.f_type == TMPFS_MAGIC) return std::nullopt;
    out.entry.path = "base/5/16384";
    out.entry.absolute = out.dir.path() / "16384";
    out.entry.type = postgres::DataEntryType::file;
    out.entry.size = size;
    auto file = File::open(out.entry.absolute, OpenMode::create_new).value();
    const std::string chunk(k_mib, 'x');
    for (std::uint64_t at = 0; at < size; at += k_mib)
        EXPECT_TRUE(file.write_at(at, chunk));
    EXPECT_TRUE(file.sync());
    const int fd = ::open(out.entry.absolute.c_str(), O_RDONLY);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    return out;
}

// Bytes of [from, to) of the file in the page cache (`from` a multiple of the page size).
std::uint64_t cached(const fs::path& path, std::uint64_t from, std::uint64_t to) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    const auto length = static_cast<std::size_t>(to - from);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(from));
    ::close(fd);
    if (map == MAP_FAILED) {
        ADD_FAILURE() << "cannot map " << path;
        return length;  // so that no "nothing cached" check passes by accident
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((length + page - 1) / page);
    const int rc = ::mincore(map, length, resident.data());
    ::munmap(map, length);
    if (rc != 0) {
        ADD_FAILURE() << "mincore failed on " << path;
        return length;
    }
    std::uint64_t bytes = 0;
    for (unsigned char r : resident)
        bytes += (r & 1) ? page : 0;
    return bytes;
}

// The read-ahead window (read_ahead_kb) of the disk holding `path`, 0 when unknown.
std::uint64_t read_ahead_kb(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    const fs::path device = fmt::format("/sys/dev/block/{}:{}", major(st.st_dev), minor(st.st_dev));
    for (const fs::path& queue : {device / "queue", device / ".." / "queue"}) {
        std::ifstream in(queue / "read_ahead_kb");
        std::uint64_t kb = 0;
        if (in >> kb) return kb;
    }
    return 0;
}

std::uint64_t read_range(const postgres::DataEntry& entry, std::uint64_t end, ReadPattern pattern) {
    CountingSink sink;
    std::atomic<std::uint64_t> done{0};
    FileReader reader(sink, k_block, false, 0, done);
    std::vector<repo::PageChecksumFailure> failures;
    auto out = reader.read(entry, 0, end, 0, failures, pattern);
    EXPECT_TRUE(out) << (out ? "" : out.error().message);
    EXPECT_EQ(sink.stored, end);
    return out ? out->bytes : 0;
}

}  // namespace

TEST(FileReader, BoundedRangeReadsNothingPastItsEnd) {
    constexpr std::uint64_t size = 64 * k_mib;
    const auto file = cold_file(size);
    if (!file || cached(file->entry.absolute, 0, size) != 0) {
        GTEST_SKIP() << "no disk-backed temporary directory whose pages can be dropped";
    }
    // The kernel's read-ahead of a sequential read runs past the range: what bounded avoids.
    EXPECT_EQ(read_range(file->entry, 8 * k_mib, ReadPattern::sequential), 8 * k_mib);
    if (cached(file->entry.absolute, 8 * k_mib, size) == 0) {
        GTEST_SKIP() << "no kernel read-ahead here: nothing to compare with";
    }
    // Shorter than k_bounded_tail: asked for exactly, at once.
    const auto short_range = cold_file(size);
    ASSERT_TRUE(short_range);
    EXPECT_EQ(read_range(short_range->entry, 8 * k_mib, ReadPattern::bounded), 8 * k_mib);
    EXPECT_EQ(cached(short_range->entry.absolute, 0, 8 * k_mib), 8 * k_mib);
    EXPECT_EQ(cached(short_range->entry.absolute, 8 * k_mib, size), 0u);
    // Longer: the kernel's read-ahead first, then the tail asked for exactly. k_bounded_tail
    // covers two sequential windows (2 * read_ahead_kb each) up to read_ahead_kb = 8192.
    const std::uint64_t window_kb = read_ahead_kb(short_range->entry.absolute);
    if (window_kb == 0 || window_kb * 1024 * 4 > k_bounded_tail) {
        GTEST_SKIP() << "read_ahead_kb " << window_kb << ": a longer range may be read ahead "
                     << "past its end here (the short range was checked)";
    }
    const auto long_range = cold_file(size);
    ASSERT_TRUE(long_range);
    const std::uint64_t end = k_bounded_tail + 8 * k_mib;
    EXPECT_EQ(read_range(long_range->entry, end, ReadPattern::bounded), end);
    EXPECT_EQ(cached(long_range->entry.absolute, end, size), 0u);
}
