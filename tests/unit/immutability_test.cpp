// Issue 12, item 7: the read-only storage wrapper (storage/read_only_storage.hpp) and the
// repository's object-lock configuration (repository/repository.hpp, docs/repository-format.md,
// "CONF"): what is recorded, what opening and creating require of the storage, and what the
// storage is told to retain.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"
#include "storage/posix/posix_storage.hpp"
#include "storage/read_only_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;
using nlohmann::json;

namespace {

// A local directory that claims object lock, recording what the repository asks of it.
class LockingStorage final : public ForwardingStorage, public ObjectLocking {
  public:
    explicit LockingStorage(std::unique_ptr<Storage> inner, bool enabled)
        : ForwardingStorage(std::move(inner)), m_enabled(enabled) {}
    ObjectLocking* object_locking() override { return this; }
    Result<bool> bucket_lock_enabled() const override { return m_enabled; }
    void retain_new_objects(RetentionRule rule) override { *m_rule = std::move(rule); }
    Status set_legal_hold(const std::string&, LegalHold) override { return {}; }
    // Shared with the test, which keeps it after the storage moved into a Repository.
    std::shared_ptr<std::optional<RetentionRule>> rule() const { return m_rule; }

  private:
    bool m_enabled;
    std::shared_ptr<std::optional<RetentionRule>> m_rule =
        std::make_shared<std::optional<RetentionRule>>();
};

json config_json() {
    return {{"format", 1},
            {"repository_id", "0123456789abcdef0123456789abcdef"},
            {"created", "2026-11-26T08:00:00Z"},
            {"block_size", 262144},
            {"pack_target_size", 33554432},
            {"compression", {{"codec", "zstd"}, {"level", 3}}},
            {"encryption", nullptr}};
}

RepositoryConfig locked_config(RetentionMode mode, std::uint32_t days) {
    RepositoryConfig config;
    config.object_lock = ObjectLockConfig{.mode = mode, .days = days};
    return config;
}

class ImmutabilityTest : public ScratchTest {};

}  // namespace

TEST_F(ImmutabilityTest, ReadOnlyStorageRefusesEveryChangeAndPassesReads) {
    ASSERT_TRUE(storage().write("a/b", "hello", Overwrite::never));
    ReadOnlyStorage read_only(storage());
    auto written = read_only.write("a/c", "x", Overwrite::never);
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, ErrorCode::read_only);
    EXPECT_NE(written.error().message.find("read-only"), std::string::npos);
    auto upload = read_only.start_upload("a/d", Overwrite::allow);
    ASSERT_FALSE(upload);
    EXPECT_EQ(upload.error().code, ErrorCode::read_only);
    auto removed = read_only.remove_if_exists("a/b");
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code, ErrorCode::read_only);
    EXPECT_EQ(read_only.local_files(), nullptr);
    EXPECT_EQ(read_only.pending_uploads(), nullptr);
    EXPECT_EQ(read_only.features().local_path, storage().features().local_path);

    EXPECT_EQ(read_only.read("a/b").value(), "hello");
    const auto listed = read_only.list("a").value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].key, "a/b");
    EXPECT_FALSE(storage().stat("a/c"));
    EXPECT_FALSE(storage().stat("a/d"));
}

TEST_F(ImmutabilityTest, ConfigWithoutObjectLockHasNone) {
    EXPECT_FALSE(parse_config(config_json().dump(), "config").value().object_lock);
    json j = config_json();
    j["object_lock"] = nullptr;
    EXPECT_FALSE(parse_config(j.dump(), "config").value().object_lock);
}

TEST_F(ImmutabilityTest, ConfigObjectLockIsParsedAndChecked) {
    json j = config_json();
    j["object_lock"] = {{"mode", "compliance"}, {"days", 30}};
    const auto config = parse_config(j.dump(), "config");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_TRUE(config->object_lock);
    EXPECT_EQ(config->object_lock->mode, RetentionMode::compliance);
    EXPECT_EQ(config->object_lock->days, 30u);
    EXPECT_EQ(config->object_lock->period(), std::chrono::hours(24 * 30));

    for (const json& bad :
         {json{{"mode", "forever"}, {"days", 30}}, json{{"days", 30}},
          json{{"mode", "governance"}, {"days", 0}}, json{{"mode", "governance"}, {"days", 36501}},
          json{{"mode", "governance"}}, json("governance")}) {
        j["object_lock"] = bad;
        const auto parsed = parse_config(j.dump(), "config");
        ASSERT_FALSE(parsed) << bad.dump();
        EXPECT_EQ(parsed.error().code, ErrorCode::corrupt) << bad.dump();
        EXPECT_NE(parsed.error().message.find("object_lock"), std::string::npos)
            << parsed.error().message;
    }
}

TEST_F(ImmutabilityTest, InitWithObjectLockRefusesALocalDirectoryAndWritesNothing) {
    auto created =
        Repository::init(repo_path().string(), locked_config(RetentionMode::governance, 7));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::usage);
    EXPECT_NE(created.error().message.find("object lock"), std::string::npos);
    EXPECT_FALSE(fs::exists(repo_path()));
}

TEST_F(ImmutabilityTest, InitWithObjectLockRefusesABucketWithoutIt) {
    auto storage =
        std::make_unique<LockingStorage>(std::make_unique<PosixStorage>(repo_path()), false);
    auto created =
        Repository::init(std::move(storage), locked_config(RetentionMode::governance, 7));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::usage);
    EXPECT_FALSE(fs::exists(repo_path() / "config"));
}

TEST_F(ImmutabilityTest, InitRecordsTheRetentionAndOpenAppliesIt) {
    auto storage =
        std::make_unique<LockingStorage>(std::make_unique<PosixStorage>(repo_path()), true);
    const auto rule = storage->rule();
    auto created =
        Repository::init(std::move(storage), locked_config(RetentionMode::compliance, 3));
    ASSERT_TRUE(created) << created.error().message;
    // The config object itself was written under the rule.
    ASSERT_TRUE(rule->has_value());
    EXPECT_EQ((*rule)->mode, RetentionMode::compliance);
    EXPECT_EQ((*rule)->period, std::chrono::hours(72));
    EXPECT_TRUE((*rule)->exempt("locks/exclusive"));
    EXPECT_TRUE((*rule)->exempt("tmp/x"));
    EXPECT_TRUE((*rule)->exempt("pins/20261129T000000Z"));
    EXPECT_FALSE((*rule)->exempt("config"));
    EXPECT_FALSE((*rule)->exempt("data/ab/abcd"));
    EXPECT_FALSE((*rule)->exempt("wal/0000000100000000/000000010000000000000001"));

    const std::string stored = PosixStorage(repo_path()).read("config").value();
    const json j = json::parse(decode_object(stored, ObjectKind::config, "config").value());
    EXPECT_EQ(j["object_lock"], (json{{"mode", "compliance"}, {"days", 3}}));

    // Reopened: the storage is told again.
    auto reopened_storage =
        std::make_unique<LockingStorage>(std::make_unique<PosixStorage>(repo_path()), true);
    const auto reopened_rule = reopened_storage->rule();
    auto opened = Repository::open(std::move(reopened_storage));
    ASSERT_TRUE(opened) << opened.error().message;
    ASSERT_TRUE(opened->config().object_lock);
    ASSERT_TRUE(reopened_rule->has_value());
    EXPECT_EQ((*reopened_rule)->period, std::chrono::hours(72));

    // A storage without object lock cannot honour it: refused rather than written unprotected.
    auto plain = Repository::open(repo_path().string());
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error().code, ErrorCode::repository);
    EXPECT_NE(plain.error().message.find("object lock"), std::string::npos);
}

TEST_F(ImmutabilityTest, RetentionModeNamesRoundTrip) {
    for (RetentionMode mode : {RetentionMode::governance, RetentionMode::compliance})
        EXPECT_EQ(parse_retention_mode(retention_mode_name(mode)).value(), mode);
    EXPECT_FALSE(parse_retention_mode("GOVERNANCE"));
}
