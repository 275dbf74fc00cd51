// open_storage (storage/open_storage.hpp) and a repository over any Storage: the backend is chosen
// by the location's scheme in one place, and the repository branches on declared features, never
// on the backend's type.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "repository/repository.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"
#include "storage/open_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

EnvironmentLookup environment_of(std::map<std::string, std::string> variables) {
    return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
        auto found = variables.find(std::string(name));
        if (found == variables.end()) return std::nullopt;
        return found->second;
    };
}

RepositoryConfig small_config() {
    RepositoryConfig config;
    config.created = parse_iso8601("2026-11-29T08:00:00Z").value();
    return config;
}

// A local directory presented as if it were an object store: no local path, no local files.
class RemoteLookingStorage final : public ForwardingStorage {
  public:
    using ForwardingStorage::ForwardingStorage;
    StorageFeatures features() const override {
        StorageFeatures features = ForwardingStorage::features();
        features.local_path.reset();
        features.listing_cost = ListingCost::per_request;
        return features;
    }
    LocalFiles* local_files() override { return nullptr; }
    const LocalFiles* local_files() const override { return nullptr; }
};

class OpenStorageTest : public ScratchTest {};

}  // namespace

TEST_F(OpenStorageTest, APathIsALocalDirectory) {
    auto storage = open_storage(repo_path().string(), environment_of({}));
    ASSERT_TRUE(storage) << storage.error().message;
    const StorageFeatures features = (*storage)->features();
    EXPECT_EQ(features.local_path, std::optional<fs::path>(repo_path()));
    EXPECT_EQ(features.conditional_create, ConditionalCreate::atomic);
    EXPECT_EQ(features.listing_cost, ListingCost::cheap);
    EXPECT_NE((*storage)->local_files(), nullptr);
    EXPECT_EQ((*storage)->pending_uploads(), nullptr);
}

TEST_F(OpenStorageTest, AnS3LocationIsAnObjectStoreWithCredentialsFromTheGivenEnvironment) {
    const std::string location = "s3://bucket/some/prefix?endpoint=http://127.0.0.1:9";
    auto storage = open_storage(location, environment_of({{"AWS_ACCESS_KEY_ID", "id"},
                                                          {"AWS_SECRET_ACCESS_KEY", "secret"}}));
    ASSERT_TRUE(storage) << storage.error().message;
    const StorageFeatures features = (*storage)->features();
    EXPECT_FALSE(features.local_path.has_value());
    EXPECT_EQ(features.conditional_create, ConditionalCreate::if_server_honours);
    EXPECT_EQ(features.ranged_reads, RangedReads::native);
    EXPECT_EQ(features.listing_cost, ListingCost::per_request);
    EXPECT_EQ((*storage)->local_files(), nullptr);
    EXPECT_EQ((*storage)->location(), "s3://bucket/some/prefix");
    EXPECT_NE((*storage)->pending_uploads(), nullptr);

    // A server the operator vouches for (conditional_writes=verified) makes creates atomic.
    auto verified = open_storage(
        location + "&conditional_writes=verified",
        environment_of({{"AWS_ACCESS_KEY_ID", "id"}, {"AWS_SECRET_ACCESS_KEY", "secret"}}));
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_EQ((*verified)->features().conditional_create, ConditionalCreate::atomic);

    // Only the given environment is consulted: without credentials in it, none are found.
    const fs::path empty_home = scratch() / "home";
    EXPECT_TRUE(fails_with(open_storage(location, environment_of({{"HOME", empty_home.string()}})),
                           ErrorCode::config, "credentials"));
}

TEST_F(OpenStorageTest, ARepositoryOverAWrappedLocalStorageKeepsItsLocalChecks) {
    // Features and local files pass through wrappers, so a repository over one is still a local
    // directory: the layout is made, modes are checked, temporaries are cleaned.
    auto wrapped = std::make_unique<ForwardingStorage>(std::make_unique<PosixStorage>(repo_path()));
    auto repository = Repository::init(std::move(wrapped), small_config());
    ASSERT_TRUE(repository) << repository.error().message;
    EXPECT_TRUE(fs::is_directory(repo_path() / "data"));
    std::ofstream(repo_path() / "tmp" / "999999999-0-0") << "left by a crash";
    ASSERT_TRUE(repository->clean_stale_temporaries());
    EXPECT_FALSE(fs::exists(repo_path() / "tmp" / "999999999-0-0"));
    fs::permissions(repo_path() / "data", fs::perms::others_read, fs::perm_options::add);
    auto loose = repository->loose_permissions();
    ASSERT_TRUE(loose) << loose.error().message;
    ASSERT_EQ(loose->size(), 1u);
    EXPECT_NE(loose->front().find("data"), std::string::npos) << loose->front();

    auto opened = Repository::open(
        std::make_unique<ForwardingStorage>(std::make_unique<PosixStorage>(repo_path())));
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->config().repository_id, repository->config().repository_id);
}

TEST_F(OpenStorageTest, ARepositoryWithoutALocalPathIsTreatedAsAnObjectStore) {
    // Same bytes on disk, but declared remote: no directory layout is made, no mode is checked,
    // and a missing repository is simply missing (no guess about directories).
    auto missing = Repository::open(
        std::make_unique<RemoteLookingStorage>(std::make_unique<PosixStorage>(repo_path())));
    EXPECT_TRUE(fails_with(missing, ErrorCode::not_a_repository, "does not exist"));

    auto repository = Repository::init(
        std::make_unique<RemoteLookingStorage>(std::make_unique<PosixStorage>(repo_path())),
        small_config());
    ASSERT_TRUE(repository) << repository.error().message;
    EXPECT_FALSE(fs::exists(repo_path() / "data")) << "an object store has no folders to make";
    fs::permissions(repo_path() / "config", fs::perms::others_read, fs::perm_options::add);
    auto loose = repository->loose_permissions();
    ASSERT_TRUE(loose) << loose.error().message;
    EXPECT_TRUE(loose->empty()) << "no local files, nothing to scan";
    EXPECT_TRUE(repository->clean_stale_temporaries());

    auto again = Repository::init(
        std::make_unique<RemoteLookingStorage>(std::make_unique<PosixStorage>(repo_path())),
        small_config());
    EXPECT_TRUE(fails_with(again, ErrorCode::conflict, "already a Lifeboat repository"));
}

TEST_F(OpenStorageTest, MoveAsideInAnEncryptedRepositoryMovesTheStoredBytes) {
    const fs::path key_file = scratch() / "key";
    std::ofstream(key_file) << std::string(32, 'k');
    fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
    auto repository = Repository::init(repo_path().string(), small_config(),
                                       Encryption::aes_256_gcm, KeySource{.key_file = key_file});
    ASSERT_TRUE(repository) << repository.error().message;
    ASSERT_TRUE(repository->storage().write("index/damaged", "plaintext", Overwrite::never));
    const std::string stored = read_file(repo_path() / "index/damaged").value();
    ASSERT_NE(stored, "plaintext") << "stored encrypted";

    auto moved = repository->move_aside("index/damaged");
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(*moved, "damaged/index/damaged");
    EXPECT_EQ(read_file(repo_path() / "damaged/index/damaged").value_or(""), stored)
        << "moved as stored, below the encryption layer";
    EXPECT_FALSE(fs::exists(repo_path() / "index/damaged"));
}
