// Issue 9, items 11 and 13: repository modes whatever the umask, and the data-directory walk that
// records links as links instead of following them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "sources/postgres/data_directory.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {
namespace {

class FilesystemModesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-modes-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        root = m_scratch->path();
    }
    static unsigned mode_of(const fs::path& p) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) return 0;
        return st.st_mode & 07777;
    }
    std::optional<TempDirectory> m_scratch;
    fs::path root;
};

// A file written in pieces appears only whole, on commit; without a commit nothing is left.
TEST_F(FilesystemModesTest, AtomicFileWriterShowsNothingBeforeCommit) {
    const fs::path target = root / "segment";
    {
        auto file = AtomicFileWriter::create(target);
        ASSERT_TRUE(file) << file.error().message;
        ASSERT_TRUE(file->write("first half, "));
        EXPECT_FALSE(fs::exists(target));
        ASSERT_TRUE(file->write("second half"));
        ASSERT_TRUE(file->commit(Durability::fsync));
        EXPECT_FALSE(file->write("late"));
    }
    EXPECT_EQ(read_file(target).value_or(""), "first half, second half");
    EXPECT_EQ(mode_of(target) & 077, 0u);
    {
        auto file = AtomicFileWriter::create(root / "abandoned");
        ASSERT_TRUE(file);
        ASSERT_TRUE(file->write("part"));
        auto moved = std::move(*file);  // the moved-from writer must not remove the file
        ASSERT_TRUE(moved.write(" more"));
    }
    EXPECT_FALSE(fs::exists(root / "abandoned"));
    EXPECT_EQ(std::distance(fs::directory_iterator(root), fs::directory_iterator()), 1)
        << "a temporary file was left behind";
    EXPECT_FALSE(AtomicFileWriter::create(root / "no-such-dir" / "f"));
}

// A file given to another account appears under its name already that account's (root gives
// it away; any other account may give it only to itself, and a refused hand-over leaves nothing).
TEST_F(FilesystemModesTest, AtomicFileWriterGivesTheFileAwayBeforeItAppears) {
    const bool root_runs = ::geteuid() == 0;
    const std::uint32_t other = 65534;  // nobody
    const fs::path target = root / "given";
    auto file = AtomicFileWriter::create(target);
    ASSERT_TRUE(file) << file.error().message;
    ASSERT_TRUE(file->write("content"));
    const auto given =
        file->give_to(root_runs ? other : ::geteuid(), root_runs ? other : ::getegid());
    ASSERT_TRUE(given) << given.error().message;
    file->start_writeback();
    ASSERT_TRUE(file->commit(Durability::content));
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, root_runs ? other : ::geteuid());
    EXPECT_EQ(read_file(target).value_or(""), "content");
    if (root_runs) return;
    auto refused = AtomicFileWriter::create(root / "refused");
    ASSERT_TRUE(refused);
    const auto outcome = refused->give_to(other, other);
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code, ErrorCode::io);
    EXPECT_FALSE(refused->commit(Durability::none));
    EXPECT_FALSE(fs::exists(root / "refused"));
    EXPECT_EQ(std::distance(fs::directory_iterator(root), fs::directory_iterator()), 1);
}

TEST_F(FilesystemModesTest, PosixStorageUses0750And0640WhateverTheUmask) {
    for (const mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
        const mode_t old = ::umask(mask);
        const fs::path repo = root / fmt::format("repo-{:o}", mask);
        PosixStorage storage(repo);
        ASSERT_TRUE(
            storage.write("wal/0000000100000000/000000010000000000000001", "x", Overwrite::never));
        ASSERT_TRUE(storage.write("locks/shared-1", "{}", Overwrite::allow));
        ::umask(old);
        EXPECT_EQ(mode_of(repo / "wal"), 0750u) << "umask " << mask;
        EXPECT_EQ(mode_of(repo / "wal/0000000100000000"), 0750u);
        EXPECT_EQ(mode_of(repo / "tmp"), 0750u);
        EXPECT_EQ(mode_of(repo / "wal/0000000100000000/000000010000000000000001"), 0640u);
        EXPECT_EQ(mode_of(repo / "locks/shared-1"), 0640u);
        auto loose = storage.loose_permissions();
        ASSERT_TRUE(loose);
        // The root was made by the test (umask-dependent), not by the storage.
        for (const auto& w : *loose)
            EXPECT_TRUE(w.starts_with(". is")) << w;
    }
}

TEST_F(FilesystemModesTest, LoosePermissionsNamesEachLooserObject) {
    PosixStorage storage(root / "repo");
    ASSERT_TRUE(storage.write("backups/a", "x", Overwrite::never));
    ::chmod((root / "repo").c_str(), 0750);
    ::chmod((root / "repo/backups/a").c_str(), 0644);
    ::chmod((root / "repo/backups").c_str(), 0770);
    auto loose = storage.loose_permissions();
    ASSERT_TRUE(loose) << loose.error().message;
    ASSERT_EQ(loose->size(), 2u);
    std::sort(loose->begin(), loose->end());
    EXPECT_EQ((*loose)[0], "backups is 0770 (expected at most 0750)");
    EXPECT_EQ((*loose)[1], "backups/a is 0644 (expected at most 0640)");
}

TEST_F(FilesystemModesTest, DataDirectoryLinksAreRecordedNotFollowed) {
    const fs::path pgdata = root / "pgdata";
    const fs::path wal = root / "wal";
    const fs::path space = root / "space";
    fs::create_directories(pgdata / "base/1");
    fs::create_directories(pgdata / "pg_tblspc");
    fs::create_directories(wal / "archive_status");
    fs::create_directories(space / "PG_15_1/1");
    ASSERT_TRUE(write_file_atomic(pgdata / "PG_VERSION", "15\n"));
    ASSERT_TRUE(write_file_atomic(pgdata / "base/1/123", std::string(8192, '\0')));
    ASSERT_TRUE(write_file_atomic(space / "PG_15_1/1/456", std::string(8192, '\0')));
    fs::create_directory_symlink(".", pgdata / "loop");
    fs::create_directory_symlink("/etc", pgdata / "etc_link");
    fs::create_directory_symlink("../..", pgdata / "base/1/up");
    fs::create_directory_symlink(wal, pgdata / "pg_wal");
    fs::create_directory_symlink(space, pgdata / "pg_tblspc/16384");
    fs::create_directory_symlink(".", pgdata / "global");  // followed, but loops: walked once

    auto scan = postgres::scan_data_directory(pgdata);
    ASSERT_TRUE(scan) << scan.error().message;
    auto find = [&](const std::string& path) -> const postgres::DataEntry* {
        for (const auto& e : scan->entries)
            if (e.path == path) return &e;
        return nullptr;
    };
    for (const auto& [path, target] : std::vector<std::pair<std::string, std::string>>{
             {"loop", "."}, {"etc_link", "/etc"}, {"base/1/up", "../.."}}) {
        const auto* e = find(path);
        ASSERT_NE(e, nullptr) << path;
        EXPECT_EQ(e->type, postgres::DataEntryType::symlink) << path;
        EXPECT_EQ(e->link_target, target);
    }
    for (const auto& e : scan->entries) {
        EXPECT_FALSE(e.path.starts_with("loop/") || e.path.starts_with("etc_link/") ||
                     e.path.starts_with("base/1/up/") || e.path.starts_with("global/"))
            << "walked through a link: " << e.path;
    }
    ASSERT_NE(find("pg_wal"), nullptr);
    EXPECT_EQ(find("pg_wal")->type, postgres::DataEntryType::directory);
    ASSERT_NE(find("pg_tblspc/16384"), nullptr);
    EXPECT_EQ(find("pg_tblspc/16384")->type, postgres::DataEntryType::tablespace_link);
    EXPECT_NE(find("pg_tblspc/16384/PG_15_1/1/456"), nullptr);
    EXPECT_LT(scan->entries.size(), 20u);
}

}  // namespace
}  // namespace lifeboat
