// Item 9 of issue 9: nothing a manifest says may make restore write outside its target (and the
// tablespace directories it chose), follow a link while writing, or create setuid/setgid/sticky
// or world-writable files. Hand-written cases, then a deterministic fuzz run over thousands of
// random hostile manifests.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>

#include "engine/restore_files.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"

namespace lifeboat::engine {
namespace {

using repo::EntryType;
using repo::ManifestEntry;

constexpr std::uint32_t k_oid = 16384;

class RestoreConfinementTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-confine-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
        root = m_scratch->path();
        target = root / "target";
        space = root / "space";
        outside = root / "outside";
        fs::create_directories(outside / "inner");
        ASSERT_TRUE(write_file_atomic(outside / "passwd", "root:x:0:0\n"));
        ASSERT_TRUE(write_file_atomic(outside / "inner" / "file", "data\n"));
        storage = std::make_unique<PosixStorage>(root / "repo");
        before = snapshot_outside();
    }

    // Everything outside the target and the tablespace directory, links not followed.
    std::map<std::string, std::string> snapshot_outside() const {
        std::map<std::string, std::string> out;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
             it.increment(ec)) {
            const fs::path& p = it->path();
            if (p == target || p == space) {
                it.disable_recursion_pending();
                continue;
            }
            struct stat st {};
            ::lstat(p.c_str(), &st);
            out[p.string()] = fmt::format("{:o} {} {}", st.st_mode, st.st_size, st.st_mtim.tv_nsec);
        }
        return out;
    }

    // Modes inside the target and the tablespace directory: no special bits, nothing for others.
    void expect_safe_modes(const std::string& context) const {
        for (const fs::path& dir : {target, space}) {
            std::error_code ec;
            if (!fs::exists(fs::symlink_status(dir, ec))) continue;
            for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
                 it.increment(ec)) {
                struct stat st {};
                ASSERT_EQ(::lstat(it->path().c_str(), &st), 0);
                if (S_ISLNK(st.st_mode)) continue;
                EXPECT_EQ(st.st_mode & 07007, 0u)
                    << it->path() << " mode " << std::oct << st.st_mode << " after " << context;
                EXPECT_EQ(st.st_mode & 020, 0u) << it->path() << " group-writable";
            }
        }
    }

    Result<MaterializeStats> materialize(const repo::Manifest& manifest) const {
        return materialize_backup({.manifest = &manifest,
                                   .index = &index,
                                   .storage = storage.get(),
                                   .hasher = &hasher,
                                   .target_dir = target,
                                   .tablespace_dirs = {{k_oid, space}},
                                   .jobs = 2});
    }

    static repo::Manifest manifest_of(std::vector<ManifestEntry> entries) {
        repo::Manifest m;
        m.id = "20261129T000000Z";
        m.postgres.tablespaces = {{k_oid, "/srv/ts"}};
        m.entries = std::move(entries);
        return m;
    }

    static ManifestEntry dir(std::string path, std::uint32_t mode = 0700) {
        return {.path = std::move(path), .type = EntryType::directory, .mode = mode};
    }
    static ManifestEntry file(std::string path, std::uint32_t mode = 0600) {
        return {.path = std::move(path), .type = EntryType::file, .mode = mode};
    }
    static ManifestEntry link(std::string path, std::string to) {
        return {.path = std::move(path), .type = EntryType::symlink, .link_target = std::move(to)};
    }

    void reset() {
        std::error_code ec;
        fs::remove_all(target, ec);
        fs::remove_all(space, ec);
    }

    std::optional<TempDirectory> m_scratch;
    fs::path root, target, space, outside;
    std::unique_ptr<PosixStorage> storage;
    repo::BlockIndex index;
    repo::BlockHasher hasher;
    std::map<std::string, std::string> before;
};

TEST_F(RestoreConfinementTest, HostilePathsAreRefusedAsCorruptNamingTheEntry) {
    const std::vector<std::pair<ManifestEntry, std::string>> cases = {
        {file("../escape_file"), "'..' path component"},
        {file((outside / "abs").string()), "absolute path"},
        {file("base//x"), "empty path component"},
        {file("./x"), "'.' path component"},
        {file(""), "empty path"},
        {file(std::string("a\0b", 3)), "NUL"},
        {file("base/"), "empty path component"},
    };
    for (const auto& [entry, reason] : cases) {
        auto result = materialize(manifest_of({dir("base"), entry}));
        ASSERT_FALSE(result) << entry.path;
        EXPECT_EQ(result.error().code, ErrorCode::corrupt) << result.error().message;
        EXPECT_NE(result.error().message.find(reason), std::string::npos) << result.error().message;
        EXPECT_FALSE(fs::exists(target)) << "nothing may be written for " << entry.path;
        EXPECT_EQ(snapshot_outside(), before);
        reset();
    }
}

TEST_F(RestoreConfinementTest, NothingIsWrittenBelowALinkFromTheManifest) {
    auto result = materialize(manifest_of({link("a", outside.string()), file("a/passwd")}));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::corrupt);
    EXPECT_NE(result.error().message.find("lies below link a"), std::string::npos)
        << result.error().message;
    EXPECT_EQ(snapshot_outside(), before);
}

TEST_F(RestoreConfinementTest, ALinkAlreadyInTheTargetIsNeverWrittenThrough) {
    // A link restore did not create (a race, or a target that was not empty): openat with
    // O_NOFOLLOW refuses to pass through it.
    fs::create_directories(target);
    fs::create_directory_symlink(outside, target / "a");
    auto result = materialize(manifest_of({file("a/passwd"), dir("a/inner/new")}));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::io) << result.error().message;
    EXPECT_EQ(snapshot_outside(), before);
}

TEST_F(RestoreConfinementTest, TablespaceLinksPointWhereRestoreChoosesAndHoldTheirFiles) {
    auto result = materialize(manifest_of(
        {dir("pg_tblspc"), link("pg_tblspc/16384", "/etc"), dir("pg_tblspc/16384/PG_15_1"),
         file("pg_tblspc/16384/PG_15_1/x", 0644), link("pg_tblspc/16384/PG_15_1/l", "/etc")}));
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(fs::read_symlink(target / "pg_tblspc/16384"), space);
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(space / "PG_15_1/x")));
    EXPECT_EQ(fs::read_symlink(space / "PG_15_1/l"), "/etc");  // a link inside a tablespace
    EXPECT_EQ(snapshot_outside(), before);
}

TEST_F(RestoreConfinementTest, LinksAreRefusedWhereRestoreOrRecoveryWrites) {
    for (const char* name : {"postgresql.auto.conf", "pg_wal", "backup_label", "global"}) {
        auto result = materialize(manifest_of({link(name, outside.string())}));
        ASSERT_FALSE(result) << name;
        EXPECT_EQ(result.error().code, ErrorCode::corrupt);
        reset();
    }
    auto unknown = materialize(manifest_of({link("pg_tblspc/99", outside.string())}));
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("unknown tablespace 99"), std::string::npos);
}

TEST_F(RestoreConfinementTest, OtherLinksAreRecreatedAsRecorded) {
    auto result = materialize(manifest_of({link("conf_link", "/etc"), link("loop", "loop")}));
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(fs::read_symlink(target / "conf_link"), "/etc");
    EXPECT_EQ(fs::read_symlink(target / "loop"), "loop");
}

TEST_F(RestoreConfinementTest, ModesAreMaskedAndSpecialBitsRefused) {
    auto refused = materialize(manifest_of({file("setuid", 04755)}));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("setuid"), std::string::npos);
    reset();
    auto result = materialize(manifest_of({dir("d", 0777), file("d/f", 0777), file("g", 0)}));
    ASSERT_TRUE(result) << result.error().message;
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat((target / "d").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    ASSERT_EQ(::stat((target / "d/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    ASSERT_EQ(::stat((target / "g").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// Random manifests built from hostile pieces. Whatever materialize_backup decides, nothing
// outside the target and the tablespace directory changes, and no restored mode is unsafe.
TEST_F(RestoreConfinementTest, FuzzedHostileManifestsNeverEscape) {
    std::mt19937_64 random(20261129);
    const std::vector<std::string> parts = {"a",
                                            "b",
                                            "base",
                                            "pg_tblspc",
                                            "16384",
                                            "99",
                                            "..",
                                            ".",
                                            "",
                                            "pg_wal",
                                            "global",
                                            "x",
                                            "postgresql.auto.conf",
                                            outside.string(),
                                            "/",
                                            (outside / "inner").string(),
                                            std::string("n\0l", 3),
                                            "..."};
    const std::vector<std::string> link_targets = {
        outside.string(), "..", "../..", "/", ".", "a", "../outside", (outside / "passwd").string(),
        "loop",           ""};
    const std::vector<std::uint32_t> modes = {0600,  0700,  0777, 04755, 02755,
                                              01777, 06777, 0,    0666,  0640};
    const std::vector<std::string> safe_parts = {"a", "b", "c", "pg_tblspc", "16384", "x"};
    const std::vector<std::uint32_t> safe_modes = {0600, 0700, 0777, 0, 0666, 0640, 0750};
    auto pick = [&](const auto& v) { return v[random() % v.size()]; };
    int refused = 0, materialized = 0;
    for (int round = 0; round < 2000; ++round) {
        // Half the rounds use only pieces a valid manifest may hold, so that writing (not just
        // refusing) is exercised too.
        const bool benign = random() % 2 == 0;
        auto pick_part = [&] { return benign ? pick(safe_parts) : pick(parts); };
        auto pick_mode = [&] { return benign ? pick(safe_modes) : pick(modes); };
        repo::Manifest m = manifest_of({});
        if (random() % 3 == 0) m.postgres.tablespaces.clear();
        const int count = 1 + static_cast<int>(random() % 10);
        for (int i = 0; i < count; ++i) {
            std::string path;
            const int depth = 1 + static_cast<int>(random() % 4);
            for (int d = 0; d < depth; ++d) {
                if (d > 0) path += '/';
                path += pick_part();
            }
            switch (random() % 3) {
                case 0:
                    m.entries.push_back(dir(path, pick_mode()));
                    break;
                case 1:
                    m.entries.push_back(file(path, pick_mode()));
                    break;
                default:
                    m.entries.push_back(link(path, pick(link_targets)));
                    break;
            }
        }
        if (random() % 8 == 0) {
            // A link restore did not make, already in the target.
            fs::create_directories(target);
            std::error_code ec;
            fs::create_directory_symlink(outside, target / pick(parts), ec);
        }
        auto result = materialize(m);
        result ? ++materialized : ++refused;
        ASSERT_EQ(snapshot_outside(), before) << "round " << round;
        expect_safe_modes(fmt::format("round {}", round));
        if (HasFailure()) return;
        reset();
    }
    RecordProperty("materialized", materialized);
    RecordProperty("refused", refused);
    // Both paths must have been exercised for the run to mean anything.
    EXPECT_GT(materialized, 100);
    EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace lifeboat::engine
