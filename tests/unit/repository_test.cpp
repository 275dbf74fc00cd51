// Repository::init and Repository::open (docs/repository-format.md, "CONF").
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "repository/repository.hpp"
#include "repository_test_support.hpp"
#include "storage/open_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;
using nlohmann::json;

namespace {

RepositoryConfig sample_config() {
    RepositoryConfig config;
    config.created = parse_iso8601("2026-11-26T08:00:00Z").value();
    config.block_size = 128 * 1024;
    config.pack_target_size = 8ull << 20;
    config.compression_level = 5;
    return config;
}

json good_config_json() {
    return {{"format", 1},
            {"repository_id", "0123456789abcdef0123456789abcdef"},
            {"created", "2026-11-26T08:00:00Z"},
            {"block_size", 262144},
            {"pack_target_size", 33554432},
            {"compression", {{"codec", "zstd"}, {"level", 3}}},
            {"encryption", nullptr}};
}

class RepositoryTest : public ScratchTest {
  protected:
    std::string location() const { return repo_path().string(); }

    void put_config(const json& j) {
        put_config_bytes(
            encode_object(ObjectKind::config, j.dump(), PayloadCompression::none).value());
    }
    void put_config_bytes(const std::string& bytes) {
        ASSERT_TRUE(ensure_directory(repo_path()));
        std::ofstream(repo_path() / "config", std::ios::binary | std::ios::trunc) << bytes;
    }
};

}  // namespace

TEST_F(RepositoryTest, InitThenOpenSeesTheSameConfig) {
    auto created = Repository::init(location(), sample_config());
    ASSERT_TRUE(created) << created.error().message;
    const std::string id = created->config().repository_id;
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;

    auto opened = Repository::open(location());
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->config().repository_id, id);
    EXPECT_EQ(opened->config().created, sample_config().created);
    EXPECT_EQ(opened->config().block_size, 128u * 1024);
    EXPECT_EQ(opened->config().pack_target_size, 8ull << 20);
    EXPECT_EQ(opened->config().compression_level, 5);
    EXPECT_EQ(opened->location(), repo_path().string());
}

TEST_F(RepositoryTest, InitCreatesTheDocumentedLayoutAndConfigObject) {
    ASSERT_TRUE(Repository::init(location(), sample_config()));
    for (const char* dir : {"data", "index", "backups", "wal", "locks", "tmp"}) {
        EXPECT_TRUE(fs::is_directory(repo_path() / dir)) << dir;
    }
    const std::string bytes = read_file(repo_path() / "config").value_or("");
    EXPECT_EQ(bytes.substr(0, k_header_size), encode_header(ObjectKind::config, 0));  // plain JSON
    auto payload = decode_object(bytes, ObjectKind::config, "config");
    ASSERT_TRUE(payload) << payload.error().message;
    const json j = json::parse(*payload);
    EXPECT_EQ(j.at("format"), 1);
    EXPECT_EQ(j.at("created"), "2026-11-26T08:00:00Z");
    EXPECT_EQ(j.at("block_size"), 128 * 1024);
    EXPECT_EQ(j.at("pack_target_size"), 8 << 20);
    EXPECT_EQ(j.at("compression"), (json{{"codec", "zstd"}, {"level", 5}}));
    EXPECT_TRUE(j.at("encryption").is_null());
}

TEST_F(RepositoryTest, TwoRepositoriesGetDifferentIds) {
    auto a = Repository::init((scratch() / "a").string(), sample_config());
    auto b = Repository::init((scratch() / "b").string(), sample_config());
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->config().repository_id, b->config().repository_id);
}

TEST_F(RepositoryTest, InitInAnExistingEmptyDirectoryWorks) {
    ASSERT_TRUE(ensure_directory(repo_path()));
    auto created = Repository::init(location(), sample_config());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_TRUE(Repository::open(location()));
}

TEST_F(RepositoryTest, OpenOfAMissingDirectoryIsNotARepository) {
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository, location()));
}

TEST_F(RepositoryTest, OpenOfAnEmptyDirectoryIsNotARepository) {
    ASSERT_TRUE(ensure_directory(repo_path()));
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository, location()));
}

TEST_F(RepositoryTest, OpenOfADirectoryWithoutConfigIsNotARepository) {
    ASSERT_TRUE(ensure_directory(repo_path() / "data"));
    ASSERT_TRUE(ensure_directory(repo_path() / "backups"));
    std::ofstream(repo_path() / "notes.txt") << "hello";
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository, location()));
}

TEST_F(RepositoryTest, OpenOfAConfigThatIsNoLifeboatObjectIsNotARepository) {
    put_config_bytes("[core]\n\trepositoryformatversion = 0\n");
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository, location()));
    put_config_bytes(
        encode_object(ObjectKind::manifest, good_config_json().dump(), PayloadCompression::none)
            .value());
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository));
}

TEST_F(RepositoryTest, InitOnANonEmptyDirectoryIsConflict) {
    ASSERT_TRUE(ensure_directory(repo_path()));
    std::ofstream(repo_path() / "precious.txt") << "do not touch";
    EXPECT_TRUE(
        fails_with(Repository::init(location(), sample_config()), ErrorCode::conflict, location()));
    EXPECT_EQ(read_file(repo_path() / "precious.txt").value_or(""), "do not touch");
    EXPECT_FALSE(fs::exists(repo_path() / "config"));
}

TEST_F(RepositoryTest, InitOnAnExistingRepositoryIsConflictAndKeepsIt) {
    auto first = Repository::init(location(), sample_config());
    ASSERT_TRUE(first);
    EXPECT_TRUE(
        fails_with(Repository::init(location(), sample_config()), ErrorCode::conflict, "already"));
    auto opened = Repository::open(location());
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened->config().repository_id, first->config().repository_id);
}

TEST_F(RepositoryTest, InitRefusesABlockSizeThatIsNotAMultipleOf8192) {
    for (const std::uint32_t block_size : {0u, 1u, 4096u, 8193u, 100'000u}) {
        RepositoryConfig config = sample_config();
        config.block_size = block_size;
        EXPECT_TRUE(fails_with(Repository::init(location(), config), ErrorCode::usage))
            << block_size;
        EXPECT_FALSE(fs::exists(repo_path() / "config")) << block_size;
    }
    RepositoryConfig config = sample_config();
    config.block_size = 8192;
    EXPECT_TRUE(Repository::init(location(), config));
}

TEST_F(RepositoryTest, InitRefusesACompressionLevelOutsideOneToNineteen) {
    for (const int level : {0, -1, 20}) {
        RepositoryConfig config = sample_config();
        config.compression_level = level;
        EXPECT_TRUE(fails_with(Repository::init(location(), config), ErrorCode::usage)) << level;
    }
}

TEST_F(RepositoryTest, OpenRefusesAStoredBlockSizeThatIsNotAMultipleOf8192) {
    for (const std::uint32_t block_size : {0u, 1000u, 8193u}) {
        json j = good_config_json();
        j["block_size"] = block_size;
        put_config(j);
        EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::corrupt, "block_size"))
            << block_size;
    }
}

TEST_F(RepositoryTest, OpenIgnoresUnknownConfigFields) {
    json j = good_config_json();
    j["future_option"] = {{"nested", true}};
    j["compression"]["dictionary"] = "none";
    put_config(j);
    auto opened = Repository::open(location());
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->config().repository_id, "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(opened->config().block_size, 262144u);
    EXPECT_EQ(opened->config().compression_level, 3);
}

TEST_F(RepositoryTest, OpenRefusesAnEncryptionItDoesNotKnow) {
    json j = good_config_json();
    j["encryption"] = {
        {"cipher", "rot13"}, {"kdf", "key-file"}, {"salt", "00"}, {"wrapped_key", "00"}};
    put_config(j);
    EXPECT_TRUE(fails_with(Repository::open(location(), KeySource{.key_file = "/dev/null"}),
                           ErrorCode::not_a_repository, "rot13"));
}

TEST_F(RepositoryTest, EncryptedRepositoryNeedsTheRightKey) {
    const fs::path key = scratch() / "key";
    const fs::path other = scratch() / "other-key";
    std::ofstream(key) << std::string(32, 'k');
    std::ofstream(other) << std::string(32, 'o');
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(other, fs::perms::owner_read | fs::perms::owner_write);
    ASSERT_TRUE(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                 KeySource{.key_file = key}));
    EXPECT_TRUE(
        fails_with(Repository::open(location(), KeySource{}), ErrorCode::usage, "--key-file"));
    EXPECT_TRUE(fails_with(Repository::open(location(), KeySource{.key_file = other}),
                           ErrorCode::corrupt, "wrong key"));
    auto opened = Repository::open(location(), KeySource{.key_file = key});
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_TRUE(opened->encrypted());
    EXPECT_TRUE(opened->block_hasher().is_keyed());
    // Objects written through it are unreadable without the key.
    ASSERT_TRUE(opened->storage().write("backups/x", "secret manifest text", Overwrite::never));
    auto raw = read_file(repo_path() / "backups/x");
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->find("secret"), std::string::npos);
    auto back = opened->storage().read("backups/x");
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, "secret manifest text");
}

TEST_F(RepositoryTest, KeysAreRefusedWhereTheyWouldMislead) {
    const fs::path key = scratch() / "key";
    std::ofstream(key) << std::string(32, 'k');
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                             fs::perms::others_read);
    // A key file others can read protects nothing; nothing is created when it is refused.
    EXPECT_TRUE(fails_with(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                            KeySource{.key_file = key}),
                           ErrorCode::usage, "too open"));
    EXPECT_FALSE(fs::exists(repo_path() / "data"));
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    // A key without encryption, a key file and a passphrase at once, a short passphrase.
    EXPECT_TRUE(fails_with(
        Repository::init(location(), sample_config(), Encryption::none, KeySource{.key_file = key}),
        ErrorCode::usage, "--encrypt"));
    EXPECT_TRUE(fails_with(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                            KeySource{.key_file = key,
                                                      .passphrase = "long enough "
                                                                    "phrase"}),
                           ErrorCode::usage, "one of them"));
    EXPECT_TRUE(fails_with(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                            KeySource{.passphrase = "short"}),
                           ErrorCode::usage, "at least 12"));
    // A key file given for a plaintext repository.
    ASSERT_TRUE(Repository::init(location(), sample_config()));
    EXPECT_TRUE(fails_with(Repository::open(location(), KeySource{.key_file = key}),
                           ErrorCode::usage, "not encrypted"));
    EXPECT_TRUE(Repository::open(location(), KeySource{}));
}

TEST_F(RepositoryTest, PassphraseRepositoryUnlocksWithThePassphraseOnly) {
    ASSERT_TRUE(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                 KeySource{.passphrase = "correct horse"}));
    EXPECT_TRUE(fails_with(Repository::open(location(), KeySource{.passphrase = "wrong horse"}),
                           ErrorCode::corrupt, "wrong key"));
    EXPECT_TRUE(Repository::open(location(), KeySource{.passphrase = "correct horse"}));
}

TEST_F(RepositoryTest, OpenRefusesAConfigWithMissingOrMistypedFields) {
    for (const char* field : {"repository_id", "created", "block_size", "pack_target_size",
                              "compression", "encryption"}) {
        json j = good_config_json();
        j.erase(field);
        put_config(j);
        EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::corrupt, "config"))
            << "without " << field;
    }
    json j = good_config_json();
    j["block_size"] = "big";
    put_config(j);
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::corrupt, "config"));
    put_config_bytes(
        encode_object(ObjectKind::config, "{not json", PayloadCompression::none).value());
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::corrupt, "config"));
}

TEST_F(RepositoryTest, OpenOfADamagedConfigNamesIt) {
    ASSERT_TRUE(Repository::init(location(), sample_config()));
    const std::string bytes = read_file(repo_path() / "config").value();
    put_config_bytes(flip_byte(bytes, bytes.size() / 2));
    auto opened = Repository::open(location());
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().message.find("config"), std::string::npos) << opened.error().message;
}

TEST_F(RepositoryTest, OpenStorageRefusesEmptyAndUnsupportedLocations) {
    EXPECT_TRUE(fails_with(open_storage(""), ErrorCode::usage));
    EXPECT_TRUE(
        fails_with(open_storage("gs://bucket/prefix"), ErrorCode::usage, "gs://bucket/prefix"));
    EXPECT_TRUE(
        fails_with(open_storage("s3://bucket/prefix?style=sideways"), ErrorCode::usage, "style"));
    EXPECT_TRUE(fails_with(Repository::open(""), ErrorCode::usage));
}

TEST_F(RepositoryTest, RelativeLocationsAreMadeAbsolute) {
    auto storage = open_storage("some/relative/../path");
    ASSERT_TRUE(storage) << storage.error().message;
    const fs::path location = (*storage)->location();
    EXPECT_TRUE(location.is_absolute());
    EXPECT_EQ(location, (fs::current_path() / "some/path"));
}

TEST_F(RepositoryTest, CleanStaleTemporariesRemovesDeadWritersFiles) {
    auto repository = Repository::init(location(), sample_config());
    ASSERT_TRUE(repository);
    std::ofstream(repo_path() / "tmp" / "999999999-0-0") << "left by a crash";
    ASSERT_TRUE(repository->clean_stale_temporaries());
    EXPECT_FALSE(fs::exists(repo_path() / "tmp" / "999999999-0-0"));
}

TEST_F(RepositoryTest, InitThatFailsBeforePublishingLeavesNoDirectoryBehind) {
    const fs::path nested = scratch() / "parent" / "repo";
    EXPECT_TRUE(
        fails_with(Repository::init(nested.string(), sample_config(), Encryption::aes_256_gcm,
                                    KeySource{.key_file = scratch() / "missing-key"}),
                   ErrorCode::usage));
    EXPECT_FALSE(fs::exists(scratch() / "parent"));
    // And an existing empty directory stays empty.
    ASSERT_TRUE(ensure_directory(repo_path()));
    EXPECT_FALSE(Repository::init(location(), sample_config(), Encryption::aes_256_gcm,
                                  KeySource{.key_file = scratch() / "missing-key"}));
    EXPECT_TRUE(fs::is_empty(repo_path()));
}

TEST_F(RepositoryTest, InitBuildsOnTheEmptyLayoutOfAnInterruptedInit) {
    for (const char* dir : {"data", "index", "backups", "wal", "locks", "tmp"})
        ASSERT_TRUE(ensure_directory(repo_path() / dir));
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository,
                           "unfinished repo-init"));
    auto created = Repository::init(location(), sample_config());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_TRUE(Repository::open(location()));
}

TEST_F(RepositoryTest, NotEmptyAndNotARepositoryPointAtEachOther) {
    ASSERT_TRUE(ensure_directory(repo_path() / "data"));
    std::ofstream(repo_path() / "data" / "stray") << "x";
    EXPECT_TRUE(fails_with(Repository::open(location()), ErrorCode::not_a_repository,
                           "repo-init` refuses it because it is not empty"));
    EXPECT_TRUE(fails_with(Repository::init(location(), sample_config()), ErrorCode::conflict,
                           "not a Lifeboat repository"));
}
