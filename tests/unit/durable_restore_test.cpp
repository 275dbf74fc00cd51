// Issue 16 item 1: a restore is durable when it reports success. Through a FileSync that
// counts (or fails) the flushes, every restored file is flushed exactly once by the worker that
// wrote it, every directory that received an entry is flushed after its entries, and a failed
// flush fails the restore naming the file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <mutex>

#include "engine/restore_files.hpp"
#include "io/durable_file.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"

namespace lifeboat::engine {
namespace {

using repo::EntryType;
using repo::ManifestEntry;

constexpr std::uint32_t k_oid = 16384;

// Counts flushes per path (and flushes nothing: the test checks the calls, not the disk).
class CountingFileSync final : public FileSync {
  public:
    void start_writeback(int, std::uint64_t, std::uint64_t) const override {}
    Status sync_file(int, const fs::path& path) const override {
        std::lock_guard lock(m_mutex);
        if (path.filename() == m_fail_name)
            return fail(ErrorCode::io, "cannot fsync {}: Input/output error", path.string());
        ++m_files[path.lexically_normal().string()];
        return {};
    }
    Status sync_directory(int, const fs::path& path) const override {
        std::lock_guard lock(m_mutex);
        if (path.filename() == m_fail_name)
            return fail(ErrorCode::io, "cannot fsync directory {}: Input/output error",
                        path.string());
        ++m_directories[path.lexically_normal().string()];
        return {};
    }
    void fail_on(std::string name) { m_fail_name = std::move(name); }
    std::map<std::string, int> files() const {
        std::lock_guard lock(m_mutex);
        return m_files;
    }
    std::map<std::string, int> directories() const {
        std::lock_guard lock(m_mutex);
        return m_directories;
    }

  private:
    mutable std::mutex m_mutex;
    mutable std::map<std::string, int> m_files;
    mutable std::map<std::string, int> m_directories;
    std::string m_fail_name;
};

class DurableRestoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-durable-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        root = m_scratch->path();
        target = root / "target";
        space = root / "space";
        storage = std::make_unique<PosixStorage>(root / "repo");
    }

    Result<MaterializeStats> materialize(const repo::Manifest& manifest) const {
        return materialize_backup({.manifest = &manifest,
                                   .index = &index,
                                   .storage = storage.get(),
                                   .hasher = &hasher,
                                   .target_dir = target,
                                   .tablespace_dirs = {{k_oid, space}},
                                   .jobs = 3,
                                   .file_sync = &sync});
    }

    static repo::Manifest data_directory() {
        repo::Manifest m;
        m.id = "20261130T000000Z";
        m.postgres.tablespaces = {{k_oid, "/srv/ts"}};
        auto dir = [](std::string path) {
            return ManifestEntry{
                .path = std::move(path), .type = EntryType::directory, .mode = 0700};
        };
        auto file = [](std::string path) {
            return ManifestEntry{.path = std::move(path), .type = EntryType::file, .mode = 0600};
        };
        m.entries = {
            dir("base"),
            dir("base/1"),
            file("base/1/1259"),
            file("base/1/1249"),
            dir("base/5"),  // empty: flushed as an entry of base/
            dir("global"),
            file("global/pg_control"),
            file("PG_VERSION"),
            dir("pg_tblspc"),
            {.path = "pg_tblspc/16384", .type = EntryType::symlink, .link_target = "/srv/ts"},
            dir("pg_tblspc/16384/PG_15_202209061"),
            dir("pg_tblspc/16384/PG_15_202209061/16385"),
            file("pg_tblspc/16384/PG_15_202209061/16385/16386")};
        return m;
    }

    std::optional<TempDirectory> m_scratch;
    fs::path root, target, space;
    std::unique_ptr<PosixStorage> storage;
    repo::BlockIndex index;
    repo::BlockHasher hasher;
    CountingFileSync sync;
};

TEST_F(DurableRestoreTest, EveryFileIsFlushedOnceAndEveryDirectoryAfterItsEntries) {
    auto stats = materialize(data_directory());
    ASSERT_TRUE(stats) << stats.error().message;
    const auto files = sync.files();
    const std::map<std::string, int> want_files = {
        {(target / "base/1/1259").string(), 1},
        {(target / "base/1/1249").string(), 1},
        {(target / "global/pg_control").string(), 1},
        {(target / "PG_VERSION").string(), 1},
        {(space / "PG_15_202209061/16385/16386").string(), 1}};
    EXPECT_EQ(files, want_files);
    // Every directory that received an entry (the target itself: PG_VERSION, base, ...; base:
    // 1 and 5; pg_tblspc: the link; the tablespace's directories), and the directories holding
    // the target and the tablespace directory (their entries for them).
    const auto directories = sync.directories();
    for (const fs::path& dir :
         {target, target / "base", target / "base/1", target / "global", target / "pg_tblspc",
          space, space / "PG_15_202209061", space / "PG_15_202209061/16385", root}) {
        EXPECT_GE(directories.count(dir.string()), 1u) << dir << " was not flushed";
    }
    for (const auto& [dir, count] : directories)
        EXPECT_EQ(count, dir == root.string() ? 2 : 1) << dir;  // root holds target and space
    EXPECT_EQ(stats->synced_directories, 8u);
}

TEST_F(DurableRestoreTest, AFailedFileFlushFailsTheRestoreNamingTheFile) {
    sync.fail_on("pg_control");
    auto stats = materialize(data_directory());
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::io);
    EXPECT_NE(stats.error().message.find("global/pg_control"), std::string::npos)
        << stats.error().message;
}

TEST_F(DurableRestoreTest, AFailedDirectoryFlushFailsTheRestore) {
    sync.fail_on("global");
    auto stats = materialize(data_directory());
    ASSERT_FALSE(stats);
    EXPECT_EQ(stats.error().code, ErrorCode::io);
    EXPECT_NE(stats.error().message.find("global"), std::string::npos) << stats.error().message;
}

// Parent directories are kept open up to a bound (restore_files.cpp): past it, each file's open
// walks from the top again. 600 directories with a file each: every file exists, with its mode,
// and is flushed once; every directory is flushed.
TEST_F(DurableRestoreTest, MoreDirectoriesThanAreKeptOpenAreRestoredAlike) {
    repo::Manifest m;
    m.id = "20261201T000000Z";
    m.entries.push_back({.path = "base", .type = EntryType::directory, .mode = 0700});
    constexpr int k_directories = 600;
    for (int i = 0; i < k_directories; ++i) {
        const std::string dir = fmt::format("base/{}", 20000 + i);
        m.entries.push_back({.path = dir, .type = EntryType::directory, .mode = 0700});
        m.entries.push_back({.path = dir + "/1259", .type = EntryType::file, .mode = 0640});
    }
    auto stats = materialize(m);
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->files, static_cast<std::uint64_t>(k_directories));
    const auto files = sync.files();
    EXPECT_EQ(files.size(), static_cast<std::size_t>(k_directories));
    for (const auto& [path, count] : files)
        EXPECT_EQ(count, 1) << path;
    for (int i = 0; i < k_directories; i += 37) {
        const fs::path file = target / fmt::format("base/{}/1259", 20000 + i);
        struct stat st {};
        ASSERT_EQ(::lstat(file.c_str(), &st), 0) << file;
        EXPECT_TRUE(S_ISREG(st.st_mode)) << file;
        EXPECT_EQ(st.st_mode & 07777, 0640u) << file;
    }
    EXPECT_EQ(stats->synced_directories, static_cast<std::uint64_t>(k_directories + 2));
}

}  // namespace
}  // namespace lifeboat::engine
