// PosixStorage: the shared Storage conformance suite, plus what only a local directory has
// (temporary files under <root>/tmp, objects as plain files, key validation against the root).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "conformance/storage_conformance.hpp"
#include "storage/posix/posix_storage.hpp"

namespace lifeboat::conformance {
namespace {

std::unique_ptr<Storage> make_posix_storage(const fs::path& scratch) {
    return std::make_unique<PosixStorage>(scratch / "repo");
}

INSTANTIATE_TEST_SUITE_P(Posix, StorageConformance,
                         ::testing::Values(StorageBackend{"posix", make_posix_storage}),
                         backend_name);

class PosixStorageTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-posix-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        m_storage = std::make_unique<PosixStorage>(root());
    }

    fs::path root() const { return m_scratch->path() / "repo"; }
    PosixStorage& storage() { return *m_storage; }

    // Regular files in <root>/tmp.
    std::vector<std::string> temporaries() const {
        std::vector<std::string> out;
        std::error_code ec;
        if (!fs::exists(root() / "tmp", ec)) return out;
        for (const auto& entry : fs::directory_iterator(root() / "tmp")) {
            out.push_back(entry.path().filename().string());
        }
        return out;
    }

    void make_temporary(const std::string& name) {
        ASSERT_TRUE(ensure_directory(root() / "tmp"));
        std::ofstream(root() / "tmp" / name) << "partial object";
    }

  private:
    std::optional<TempDirectory> m_scratch;
    std::unique_ptr<PosixStorage> m_storage;
};

// A pid that surely belongs to no running process: a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

TEST_F(PosixStorageTest, AbandonedUploadLeavesNoTemporaryBehind) {
    {
        auto upload = storage().start_upload("data/ab/abandoned", Overwrite::never);
        ASSERT_TRUE(upload) << upload.error().message;
        ASSERT_TRUE((*upload)->append(pattern_bytes(1, 0, 1 << 20)));
        EXPECT_EQ(temporaries().size(), 1u);
    }
    EXPECT_TRUE(temporaries().empty());
    ASSERT_TRUE(storage().clean_stale_temporaries());
    EXPECT_TRUE(temporaries().empty());
    EXPECT_FALSE(fs::exists(root() / "data/ab/abandoned"));
}

TEST_F(PosixStorageTest, RefusedPublishLeavesNoTemporaryBehind) {
    ASSERT_TRUE(storage().write("config", "first", Overwrite::never));
    auto again = storage().write("config", "second", Overwrite::never);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::conflict);
    EXPECT_TRUE(temporaries().empty());
    auto upload = storage().start_upload("config", Overwrite::never);
    ASSERT_TRUE(upload) << upload.error().message;
    ASSERT_TRUE((*upload)->append("third"));
    EXPECT_FALSE((*upload)->commit());
    upload->reset();
    EXPECT_TRUE(temporaries().empty());
}

TEST_F(PosixStorageTest, CommittedUploadLeavesNoTemporaryBehind) {
    ASSERT_TRUE(storage().write("a/1", "one", Overwrite::never));
    ASSERT_TRUE(storage().write("a/1", "two", Overwrite::allow));
    EXPECT_TRUE(temporaries().empty());
}

TEST_F(PosixStorageTest, CleanStaleTemporariesRemovesOnlyThoseOfDeadOrDayOldWriters) {
    const pid_t dead = dead_pid();
    const pid_t alive = ::getpid();
    make_temporary(fmt::format("{}-0-1", dead));
    make_temporary(fmt::format("{}-7-2", alive));
    make_temporary(fmt::format("{}-8-3", alive));
    make_temporary("no-pid-here");
    // A live writer's temporary untouched for more than a day is stale too.
    fs::last_write_time(root() / "tmp" / fmt::format("{}-8-3", alive),
                        fs::file_time_type::clock::now() - std::chrono::hours(25));

    ASSERT_TRUE(storage().clean_stale_temporaries());
    auto left = temporaries();
    std::sort(left.begin(), left.end());
    std::vector<std::string> expected = {fmt::format("{}-7-2", alive), "no-pid-here"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(left, expected);
}

TEST_F(PosixStorageTest, UploadInProgressSurvivesCleanStaleTemporaries) {
    auto upload = storage().start_upload("data/cd/live", Overwrite::never);
    ASSERT_TRUE(upload) << upload.error().message;
    ASSERT_TRUE((*upload)->append("first half, "));
    ASSERT_TRUE(storage().clean_stale_temporaries());
    ASSERT_TRUE((*upload)->append("second half"));
    auto committed = (*upload)->commit();
    ASSERT_TRUE(committed) << committed.error().message;
    EXPECT_EQ(storage().read("data/cd/live").value_or("?"), "first half, second half");
}

TEST_F(PosixStorageTest, CleanStaleTemporariesOfAMissingRootIsANoOp) {
    EXPECT_TRUE(storage().clean_stale_temporaries());
}

TEST_F(PosixStorageTest, ObjectsArePlainFilesAtTheirKeys) {
    ASSERT_TRUE(storage().write("backups/20261126T080000Z", "manifest", Overwrite::never));
    EXPECT_TRUE(fs::is_regular_file(root() / "backups" / "20261126T080000Z"));
    auto bytes = read_file(root() / "backups" / "20261126T080000Z");
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, "manifest");
    EXPECT_EQ(storage().location(), root().string());
}

TEST_F(PosixStorageTest, KeysThatLeaveTheRootAreRefused) {
    for (const char* key : {"", "/etc/passwd-lifeboat", "../escape", "a/../../escape"}) {
        EXPECT_FALSE(storage().write(key, "x", Overwrite::allow)) << "'" << key << "'";
        EXPECT_FALSE(storage().start_upload(key, Overwrite::allow)) << "'" << key << "'";
        EXPECT_FALSE(storage().read(key)) << "'" << key << "'";
        EXPECT_FALSE(storage().stat(key)) << "'" << key << "'";
        EXPECT_FALSE(storage().remove_if_exists(key)) << "'" << key << "'";
    }
    EXPECT_FALSE(fs::exists(root().parent_path() / "escape"));
}

TEST_F(PosixStorageTest, ListRefusesPrefixesThatLeaveTheRoot) {
    // Regression test (was a bug): PosixStorage::list does not validate its prefix the way path_of
    // validates keys: list("..") and list("../") walk the root's parent and return keys such as
    // "../outside" (and "inside" for the root itself). read/write refuse any key containing "..".
    ASSERT_TRUE(storage().write("inside", "x", Overwrite::never));
    std::ofstream(root().parent_path() / "outside") << "not part of the repository";
    for (const char* prefix : {"..", "../", "a/../.."}) {
        auto listed = storage().list(prefix);
        if (!listed) continue;  // refusing is fine
        for (const auto& object : *listed) {
            ADD_FAILURE() << "list('" << prefix << "') returned '" << object.key << "'";
        }
    }
}

}  // namespace
}  // namespace lifeboat::conformance
