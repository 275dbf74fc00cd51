// Reads the frozen format-v1 sample repository in tests/data/repo-v1 (see tests/data/README.md).
// Every expectation below is a constant recorded when the sample was made. If one of these tests
// fails, the code no longer reads what Lifeboat v1 wrote: fix the code, never the sample or the
// constants (a deliberate format change bumps a version and adds a new sample beside this one).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "codec/hash.hpp"
#include "engine/restore.hpp"
#include "repository/index.hpp"
#include "repository/manifest.hpp"
#include "repository/pack.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

const fs::path k_sample = fs::path(LIFEBOAT_TEST_DATA) / "repo-v1";

constexpr const char* k_backup_id = "20261126T080000Z";
constexpr const char* k_pack_id =
    "45bf616ea5d9068b5ef0d82d97f0e2474888fccfe7c52902934c3a61eab3eec8";
constexpr const char* k_index_id =
    "042dbcbb2af53c95853ab9aec9a84a18ce16837689d3a88c318e7efa09ab6a65";
constexpr const char* k_wal_name = "000000010000000000000002";

// Block ids (SHA-256 of the plaintext).
constexpr const char* k_block_pg_version =
    "238903180cc104ec2c5d8b3f20c5bc61b389ec0a967df8cc208cdc7cd454174f";
constexpr const char* k_block_pg_control =
    "6c970f93f62cea38802c15590674bcb8b3807b9f3ebbc0551505055cd407c6c7";
constexpr const char* k_block_a =
    "97c4568c5975069dc5356ffca6be690804cf52094f852fd2e5bc85ff2a241866";
constexpr const char* k_block_c =
    "2d86111214c1ab7b5e2d9b895edca5ae6f8049d003f0dd5c56d2c1849339808c";

struct FrozenObject {
    std::uint64_t size;
    const char* sha256;
};

// Every object of the sample: its key, size and SHA-256 of its bytes.
const std::map<std::string, FrozenObject>& frozen_objects() {
    static const std::map<std::string, FrozenObject> objects = {
        {"backups/20261126T080000Z",
         {1051, "3b0013132f48d5e832b58df6a0d1773ca23ffdccbf0f24ae3bd941a9528af215"}},
        {"config", {304, "eea57c3e0f5ec3abaed9a7b8ad4cd0998978fe8303c34b40cd47df87e8a88fef"}},
        {"data/45/45bf616ea5d9068b5ef0d82d97f0e2474888fccfe7c52902934c3a61eab3eec8",
         {14898, "7761e2a659813c63e9e6f4ea708c0db4294b588070d4d475d3521b7357fecbd4"}},
        {"index/042dbcbb2af53c95853ab9aec9a84a18ce16837689d3a88c318e7efa09ab6a65",
         {353, "042dbcbb2af53c95853ab9aec9a84a18ce16837689d3a88c318e7efa09ab6a65"}},
        {"wal/0000000100000000/000000010000000000000002",
         {2371, "f22c0e20f6178134a37b6b29ed08f5ac017981f3ac385ea3150cb2e311eaf0d0"}},
    };
    return objects;
}

// The sample's file contents, as the generator made them (tests/data/README.md).
std::string lines(std::string_view prefix, std::size_t size) {
    std::string out;
    for (std::size_t row = 0; out.size() < size; ++row) {
        out += prefix;
        out += " row " + std::to_string(row) + "\n";
    }
    out.resize(size);
    return out;
}

std::string noise(std::size_t size, std::uint64_t seed) {
    std::string out(size, '\0');
    std::uint64_t state = seed;
    for (std::size_t i = 0; i < size; i += 8) {
        state += 0x9e3779b97f4a7c15ull;
        std::uint64_t x = state;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        x ^= x >> 31;
        state = x;
        for (std::size_t k = 0; k < 8 && i + k < size; ++k)
            out[i + k] = static_cast<char>(x >> (8 * k));
    }
    return out;
}

std::string relation_16384() {
    const std::string a = lines("lifeboat repo-v1 sample: base/1/16384 block A", 262144);
    return a + a + lines("lifeboat repo-v1 sample: base/1/16384 block C", 90112);
}

std::string wal_segment() {
    std::string wal = lines("lifeboat repo-v1 sample: wal record", 65536);
    wal.resize(16777216, '\0');
    return wal;
}

Timestamp at(const char* text) {
    auto t = parse_iso8601(text);
    EXPECT_TRUE(t) << text;
    return t.value_or(Timestamp{});
}

BlockId block(const char* hex) {
    auto id = BlockId::from_hex(hex);
    EXPECT_TRUE(id) << hex;
    return id.value_or(BlockId{});
}

// Every file of a sample, by size and SHA-256: a regenerated or edited sample is caught.
void expect_exactly(const fs::path& sample, const std::map<std::string, FrozenObject>& objects) {
    std::map<std::string, std::pair<std::uint64_t, std::string>> found;
    for (const auto& entry : fs::recursive_directory_iterator(sample)) {
        if (!entry.is_regular_file()) continue;
        const std::string bytes = read_file(entry.path()).value_or("");
        found[fs::relative(entry.path(), sample).generic_string()] = {bytes.size(),
                                                                      digest_hex(sha256(bytes))};
    }
    ASSERT_EQ(found.size(), objects.size()) << sample;
    for (const auto& [key, frozen] : objects) {
        ASSERT_TRUE(found.count(key)) << key << " is missing from " << sample;
        EXPECT_EQ(found[key].first, frozen.size) << key;
        EXPECT_EQ(found[key].second, frozen.sha256)
            << key << " changed: a frozen sample must never be regenerated";
    }
}

// Tests read a private copy, so nothing (a future clean-up on open, say) can alter the sample.
class FrozenRepositoryV1 : public ScratchTest {
  protected:
    void SetUp() override {
        ScratchTest::SetUp();
        ASSERT_TRUE(fs::is_directory(k_sample)) << k_sample;
        fs::copy(k_sample, repo_path(), fs::copy_options::recursive);
        auto repository = Repository::open(repo_path().string());
        ASSERT_TRUE(repository) << repository.error().message;
        m_repository.emplace(std::move(*repository));
    }
    Repository& repository() { return *m_repository; }

  private:
    std::optional<Repository> m_repository;
};

}  // namespace

TEST_F(FrozenRepositoryV1, SampleHoldsExactlyTheFrozenObjects) {
    expect_exactly(k_sample, frozen_objects());
}

TEST_F(FrozenRepositoryV1, OpensWithTheFrozenConfig) {
    const RepositoryConfig& config = repository().config();
    EXPECT_EQ(config.repository_id, "994cee13a4ce853b6815947b7dfd7de0");
    EXPECT_EQ(config.created, at("2026-11-26T07:59:00Z"));
    EXPECT_EQ(config.block_size, 262144u);
    EXPECT_EQ(config.pack_target_size, 33554432u);
    EXPECT_EQ(config.compression_level, 3);
}

TEST_F(FrozenRepositoryV1, HoldsOneBackupWithTheFrozenManifest) {
    auto ids = list_backup_ids(repository().storage());
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_EQ(*ids, std::vector<std::string>{k_backup_id});

    auto read = read_manifest(repository().storage(), k_backup_id);
    ASSERT_TRUE(read) << read.error().message;
    const Manifest& m = *read;
    EXPECT_EQ(m.id, k_backup_id);
    // v1 wrote kind "postgres"; it is read as the postgres-physical kind of format 2.
    EXPECT_EQ(m.source.kind, "postgres-physical");
    EXPECT_EQ(m.format_version, 1u);
    EXPECT_EQ(m.source.system_identifier, "7441234567890123456");
    EXPECT_EQ(m.source.server_version, 150010);
    EXPECT_EQ(m.postgres.pgdata, "/var/lib/postgresql/15/main");
    EXPECT_EQ(m.postgres.wal_segment_size, 16777216u);
    EXPECT_TRUE(m.postgres.data_checksums);
    EXPECT_EQ(m.postgres.block_size, 8192u);
    EXPECT_EQ(m.start_time, at("2026-11-26T08:00:00.25Z"));
    EXPECT_EQ(m.stop_time, at("2026-11-26T08:00:03Z"));
    EXPECT_EQ(m.start_lsn, "0/2000028");
    EXPECT_EQ(m.stop_lsn, "0/2000138");
    EXPECT_EQ(m.timeline, 1u);
    EXPECT_EQ(m.start_wal, "000000010000000000000002");
    EXPECT_EQ(m.stop_wal, "000000010000000000000002");
    EXPECT_EQ(m.postgres.backup_label,
              "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
              "CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n"
              "START TIME: 2026-11-26 08:00:00 UTC\nLABEL: lifeboat 20261126T080000Z\nSTART "
              "TIMELINE: 1\n");
    EXPECT_EQ(m.postgres.tablespace_map, "16385 /srv/ts1\n");
    ASSERT_EQ(m.postgres.tablespaces.size(), 1u);
    EXPECT_EQ(m.postgres.tablespaces[0].oid, 16385u);
    EXPECT_EQ(m.postgres.tablespaces[0].location, "/srv/ts1");
    EXPECT_EQ(m.tags, (std::map<std::string, std::string>{{"purpose", "frozen-sample"}}));
    EXPECT_EQ(m.stats.files, 4u);
    EXPECT_EQ(m.stats.data_bytes, 3u + 8192u + 614400u);
    EXPECT_EQ(m.stats.stored_bytes, 14626u);
    EXPECT_EQ(m.stats.new_blocks, 4u);
    EXPECT_EQ(m.stats.duration_seconds, 1.5);
    ASSERT_EQ(m.postgres.page_checksum_failures.size(), 1u);
    EXPECT_EQ(m.postgres.page_checksum_failures[0].path, "base/1/16384");
    EXPECT_EQ(m.postgres.page_checksum_failures[0].block, 3u);
    EXPECT_EQ(m.indexes, std::vector<std::string>{k_index_id});

    struct Expected {
        const char* path;
        EntryType type;
        std::uint32_t mode;
        std::uint64_t size;
        std::int64_t mtime;
        const char* target;
        std::vector<BlockId> blocks;
    };
    const std::vector<Expected> expected = {
        {"PG_VERSION", EntryType::file, 0600, 3, 1764144000, "", {block(k_block_pg_version)}},
        {"base", EntryType::directory, 0700, 0, 0, "", {}},
        {"base/1", EntryType::directory, 0700, 0, 0, "", {}},
        {"base/1/16384",
         EntryType::file,
         0600,
         614400,
         1764144001,
         "",
         {block(k_block_a), block(k_block_a), block(k_block_c)}},
        {"base/1/16390", EntryType::file, 0600, 0, 1764144002, "", {}},
        {"global", EntryType::directory, 0700, 0, 0, "", {}},
        {"global/pg_control",
         EntryType::file,
         0600,
         8192,
         1764144003,
         "",
         {block(k_block_pg_control)}},
        {"pg_tblspc", EntryType::directory, 0700, 0, 0, "", {}},
        {"pg_tblspc/16385", EntryType::symlink, 0600, 0, 0, "/srv/ts1", {}},
    };
    ASSERT_EQ(m.entries.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& e = m.entries[i];
        EXPECT_EQ(e.path, expected[i].path) << i;
        EXPECT_EQ(e.type, expected[i].type) << e.path;
        if (e.type != EntryType::symlink) {
            EXPECT_EQ(e.mode, expected[i].mode) << e.path;
        }
        EXPECT_EQ(e.size, expected[i].size) << e.path;
        EXPECT_EQ(e.mtime, expected[i].mtime) << e.path;
        EXPECT_EQ(e.link_target, expected[i].target) << e.path;
        EXPECT_EQ(e.blocks, expected[i].blocks) << e.path;
    }
}

TEST_F(FrozenRepositoryV1, IndexAndPackFooterDescribeTheSameFourBlocks) {
    auto index = load_block_index(repository().storage());
    ASSERT_TRUE(index) << index.error().message;
    EXPECT_EQ(index->loaded_from, std::vector<std::string>{k_index_id});
    EXPECT_EQ(index->packs(), std::set<std::string>{k_pack_id});
    EXPECT_EQ(index->block_count(), 4u);
    auto unindexed = find_unindexed_packs(repository().storage(), *index);
    ASSERT_TRUE(unindexed) << unindexed.error().message;
    EXPECT_TRUE(unindexed->empty());

    // offset, stored_length, raw_length, codec: incompressible blocks are stored raw.
    const std::vector<std::pair<const char*, BlockPlacement>> expected = {
        {k_block_pg_version, {24, 3, 3, BlockCodec::raw}},
        {k_block_pg_control, {27, 8192, 8192, BlockCodec::raw}},
        {k_block_a, {8219, 4644, 262144, BlockCodec::zstd}},
        {k_block_c, {12863, 1787, 90112, BlockCodec::zstd}},
    };
    auto pack = read_pack_summary(repository().storage(), k_pack_id);
    ASSERT_TRUE(pack) << pack.error().message;
    EXPECT_EQ(pack->size, 14898u);
    ASSERT_EQ(pack->entries.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& [hex, placement] = expected[i];
        EXPECT_EQ(pack->entries[i].id, block(hex)) << i;
        const auto location = index->find(block(hex));
        ASSERT_TRUE(location) << hex;
        EXPECT_EQ(*location->pack_id, k_pack_id);
        for (const BlockPlacement& actual : {pack->entries[i].placement, location->placement}) {
            EXPECT_EQ(actual.offset, placement.offset) << hex;
            EXPECT_EQ(actual.stored_length, placement.stored_length) << hex;
            EXPECT_EQ(actual.raw_length, placement.raw_length) << hex;
            EXPECT_EQ(actual.codec, placement.codec) << hex;
        }
    }
}

TEST_F(FrozenRepositoryV1, EveryFileReassemblesFromItsBlocks) {
    auto manifest = read_manifest(repository().storage(), k_backup_id);
    ASSERT_TRUE(manifest) << manifest.error().message;
    auto index = load_block_index(repository().storage());
    ASSERT_TRUE(index) << index.error().message;

    std::map<std::string, std::string> files;
    BlockReader reader;
    for (const auto& entry : manifest->entries) {
        if (entry.type != EntryType::file) continue;
        std::string content;
        for (const auto& id : entry.blocks) {
            const auto location = index->find(id);
            ASSERT_TRUE(location) << entry.path << ": block " << id.hex() << " is in no pack";
            std::string block_bytes;
            auto status = read_block(repository().storage(), *location->pack_id, id,
                                     location->placement, reader, block_bytes);
            ASSERT_TRUE(status) << entry.path << ": " << status.error().message;
            content += block_bytes;
        }
        EXPECT_EQ(content.size(), entry.size) << entry.path;
        files[entry.path] = std::move(content);
    }
    ASSERT_EQ(files.size(), 4u);
    EXPECT_EQ(files["PG_VERSION"], "15\n");
    EXPECT_EQ(files["base/1/16390"], "");
    EXPECT_TRUE(files["global/pg_control"] == noise(8192, 1));
    EXPECT_EQ(digest_hex(sha256(files["global/pg_control"])), k_block_pg_control);
    EXPECT_TRUE(files["base/1/16384"] == relation_16384());
    EXPECT_EQ(digest_hex(sha256(files["base/1/16384"])),
              "2054fa5444c965464b148500eee2df484ca009b2f35c1148b7cfca3bdf68fc39");
}

// The v1 sample through the whole restore path of today's engine and physical driver: window
// (its one segment makes the backup consistent), choice, files, recovery settings.
TEST_F(FrozenRepositoryV1, RestoresToConsistentThroughTheEngineAndTheDriver) {
    const fs::path target = scratch() / "restored";
    const OperationContext ctx;
    auto restored = engine::run_restore(
        repository(), {.consistent = true, .target_dir = target, .lifeboat_binary = "lifeboat"},
        ctx);
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_EQ(restored->backup_id, k_backup_id);
    EXPECT_EQ(restored->files, 4u);
    EXPECT_EQ(read_file(target / "PG_VERSION").value_or(""), "15\n");
    EXPECT_EQ(digest_hex(sha256(read_file(target / "global/pg_control").value_or(""))),
              k_block_pg_control);
    const std::string label = read_file(target / "backup_label").value_or("");
    EXPECT_NE(label.find("START WAL LOCATION"), std::string::npos) << label;
    const std::string settings = read_file(target / "postgresql.auto.conf").value_or("");
    EXPECT_NE(settings.find("recovery_target = 'immediate'"), std::string::npos) << settings;
    EXPECT_NE(settings.find("recovery_target_timeline = '1'"), std::string::npos) << settings;
    EXPECT_TRUE(fs::exists(target / "recovery.signal"));
}

// Restore reads the manifests' headers to choose, then the chosen one whole: a later backup whose
// header is sound but whose entries are damaged is left out when it is chosen, named, and the
// choice made again (the frozen backup restored).
TEST_F(FrozenRepositoryV1, AChosenBackupWhoseEntriesAreDamagedIsLeftOutAndAnotherRestored) {
    const std::string key = manifest_key(k_backup_id);
    const std::string frozen = repository().storage().read(key).value();
    auto doc = nlohmann::json::parse(*decode_object(frozen, ObjectKind::manifest, key));
    const std::string later = "20261126T090000Z";
    doc["id"] = later;
    doc["start_time"] = "2026-11-26T08:00:01Z";
    doc["stop_time"] = "2026-11-26T08:00:04Z";
    for (auto& entry : doc["entries"]) {
        if (entry.contains("blocks") && !entry["blocks"].empty()) {
            entry["blocks"][0] = "not a block id";
            break;
        }
    }
    std::string object = *encode_object(ObjectKind::manifest, doc.dump(), PayloadCompression::zstd);
    put_u32le(object, 12, 1);  // the v1 layout, as the frozen one
    ASSERT_TRUE(
        repository().storage().write(manifest_key(later), reseal(object), Overwrite::never));
    auto headers = read_manifests(repository().storage(), ManifestParts::header);
    ASSERT_TRUE(headers) << headers.error().message;
    ASSERT_EQ(headers->backups.size(), 2u);  // its header is sound

    const fs::path target = scratch() / "restored";
    const OperationContext ctx;
    auto restored = engine::run_restore(
        repository(), {.consistent = true, .target_dir = target, .lifeboat_binary = "lifeboat"},
        ctx);
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_EQ(restored->backup_id, k_backup_id);
    ASSERT_EQ(restored->warnings.size(), 1u);
    EXPECT_NE(restored->warnings[0].find("left out damaged backups/" + later), std::string::npos)
        << restored->warnings[0];
    EXPECT_EQ(read_file(target / "PG_VERSION").value_or(""), "15\n");

    // Asked for by id, it is refused, naming the damage.
    auto refused = engine::run_restore(repository(),
                                       {.backup_id = later,
                                        .consistent = true,
                                        .target_dir = scratch() / "refused",
                                        .lifeboat_binary = "lifeboat"},
                                       ctx);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::corrupt);
    EXPECT_NE(refused.error().message.find("backup " + later + " cannot be restored"),
              std::string::npos)
        << refused.error().message;
    EXPECT_FALSE(fs::exists(scratch() / "refused"));
}

TEST_F(FrozenRepositoryV1, WalSegmentFetchesWithTheFrozenChecksumAndMetadata) {
    auto names = list_wal_names(repository().storage());
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_EQ(*names, std::vector<std::string>{k_wal_name});

    auto meta = read_wal_meta(repository().storage(), k_wal_name);
    ASSERT_TRUE(meta) << meta.error().message;
    EXPECT_EQ(meta->name, k_wal_name);
    EXPECT_EQ(meta->raw_size, 16777216u);
    EXPECT_EQ(meta->raw_sha256, "deed27726669ca6ece40c9666f4bd6314b02069b502b8852f2f8d0ad9269f230");
    EXPECT_EQ(meta->codec, BlockCodec::zstd);
    EXPECT_EQ(meta->first_commit, at("2026-11-26T08:00:01.000001Z"));
    EXPECT_EQ(meta->last_commit, at("2026-11-26T08:00:02.5Z"));
    EXPECT_EQ(meta->commits, 3u);
    EXPECT_EQ(meta->pushed, at("2026-11-26T08:00:04Z"));

    auto content = fetch_wal(repository().storage(), k_wal_name);
    ASSERT_TRUE(content) << content.error().message;
    EXPECT_EQ(content->size(), 16777216u);
    EXPECT_EQ(digest_hex(sha256(*content)),
              "deed27726669ca6ece40c9666f4bd6314b02069b502b8852f2f8d0ad9269f230");
    EXPECT_TRUE(*content == wal_segment());
}

TEST_F(FrozenRepositoryV1, RePushingTheFrozenSegmentIsAlreadyPresent) {
    WalMeta meta;
    meta.name = k_wal_name;
    auto outcome = push_wal(repository().storage(), meta, wal_segment(), 3);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, PushOutcome::already_present);
    auto different = push_wal(repository().storage(), meta, wal_segment() + "x", 3);
    EXPECT_TRUE(fails_with(different, ErrorCode::conflict, k_wal_name));
}

// The plaintext format-2 sample (tests/data/README.md, "repo-v2"): its manifest is an MNFT
// version 2 object with the source kind, the log position and the postgres-physical payload.
// tests/e2e/test_frozen_v2.sh restores both v2 samples.
class FrozenRepositoryV2 : public ScratchTest {};

TEST_F(FrozenRepositoryV2, ManifestIsFormatTwoWithSourceKindLogAndPayload) {
    const fs::path sample = fs::path(LIFEBOAT_TEST_DATA) / "repo-v2";
    ASSERT_TRUE(fs::is_directory(sample)) << sample;
    fs::copy(sample, repo_path(), fs::copy_options::recursive);
    auto repository = Repository::open(repo_path().string());
    ASSERT_TRUE(repository) << repository.error().message;
    auto ids = list_backup_ids(repository->storage());
    ASSERT_TRUE(ids);
    ASSERT_EQ(ids->size(), 1u);
    const auto bytes = repository->storage().read(manifest_key(ids->front()));
    ASSERT_TRUE(bytes);
    EXPECT_EQ(object_version(*bytes), 2u);
    auto m = read_manifest(repository->storage(), ids->front());
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->format_version, 2u);
    EXPECT_EQ(m->source.kind, "postgres-physical");
    EXPECT_EQ(m->source.server_version / 10000, 15);
    EXPECT_EQ(m->postgres.wal_segment_size, 1u << 20);
    EXPECT_FALSE(m->postgres.backup_label.empty());
    EXPECT_EQ(m->start_wal, "000000010000000000000009");
    EXPECT_EQ(m->tags.at("purpose"), "frozen-v2-sample");
}

// The sample whose zstd blocks carry their checksum frames (tests/data/README.md,
// "repo-v2-checksums"; repository-format.md, "Block checksums"). tests/e2e/test_frozen_v2.sh
// restores it.
namespace {

const fs::path k_checksum_sample = fs::path(LIFEBOAT_TEST_DATA) / "repo-v2-checksums";

const std::map<std::string, FrozenObject>& frozen_checksum_objects() {
    static const std::map<std::string, FrozenObject> objects = {
        {"backups/20261203T074555Z",
         {20619, "e42968902c7c27a0aa08ae8f33eab75c98bfc77cf0e51258af24ccb2e5900715"}},
        {"cluster", {140, "7dd3190ec7afe752ecb2b3c5278956120a6a54b428976acd38d4e7db332a4ab3"}},
        {"config", {311, "e8bbb456e338b1e8fd0e84f134ad296c84cb5704874b206e998cf34d6a40ca7a"}},
        {"data/4b/4bd70bd4b3b8dc380f0f1f2442fa4c4cfaab5c2f5eb027ce9dfca265ae30ed94",
         {712504, "c996e232964372c17f4f13a89f54a9db0f6dc4e83eaccb40d500497e649ebdbf"}},
        {"data/fb/fbccd539f282ae704d85e6bcf66901d8efd7777f55074e720026c8afd84d4664",
         {471627, "b54cd3b42e8ecd4e40aa7b3518eed3b4bf304316bec253bbc3ec3670f435dd95"}},
        {"index/711b87c9afb7de9a595aad3cb06c223a103c745b6ef24435570c4d18dd3e0886",
         {14036, "711b87c9afb7de9a595aad3cb06c223a103c745b6ef24435570c4d18dd3e0886"}},
        {"wal-summaries/000000010000000000000008",
         {406, "3fc78ff275281d421230354db52482841adfad02c30d3652411e5834e91f18d8"}},
        {"wal-summaries/000000010000000000000009",
         {83, "417fd07ce1636a64107566b14fd83ca7248f0da89739db4b573017d1258fbe41"}},
        {"wal-summaries/00000001000000000000000A",
         {109, "8dab8fc961a0f48cde89d1bc9d0dfde2864f851d9bb9237c143382e742e14b48"}},
        {"wal/0000000100000000/000000010000000000000008",
         {78472, "81b73e2656685b7734575e0e28c43f26ac6ad9f9e96b1e40c042525d35f166c2"}},
        {"wal/0000000100000000/000000010000000000000009",
         {459, "9fef88bd8c824c024f970862b39794375e4b4dbdc7e114a5a8fef449bd31bb0f"}},
        {"wal/0000000100000000/000000010000000000000009.00000028.backup",
         {451, "6b5b9fb72ba9480de5888a71c9fe3c4b8709494ef4747e8600eec6d6bb61ad91"}},
        {"wal/0000000100000000/00000001000000000000000A",
         {5998, "128edbbf37da864d8461edad5d17c77e55cc0bdf329e91a872845675d6c9d6c3"}},
    };
    return objects;
}

}  // namespace

TEST_F(FrozenRepositoryV2, TheChecksumSampleHoldsExactlyTheFrozenObjects) {
    expect_exactly(k_checksum_sample, frozen_checksum_objects());
}

// Every zstd block of the backup ends with the checksum frame of its plaintext and is accepted
// by it alone; raw blocks carry none and are checked by their ids.
TEST_F(FrozenRepositoryV2, EveryZstdBlockOfTheChecksumSampleCarriesItsChecksum) {
    ASSERT_TRUE(fs::is_directory(k_checksum_sample)) << k_checksum_sample;
    fs::copy(k_checksum_sample, repo_path(), fs::copy_options::recursive);
    auto repository = Repository::open(repo_path().string());
    ASSERT_TRUE(repository) << repository.error().message;
    const Storage& storage = repository->storage();
    auto manifest = read_manifest(storage, "20261203T074555Z");
    ASSERT_TRUE(manifest) << manifest.error().message;
    auto index = load_block_index(storage);
    ASSERT_TRUE(index) << index.error().message;

    std::set<std::string> seen;
    std::size_t zstd_blocks = 0, raw_blocks = 0;
    BlockReader reader;
    for (const auto& entry : manifest->entries) {
        for (const auto& id : entry.blocks) {
            if (!seen.insert(id.hex()).second) continue;
            const auto location = index->find(id);
            ASSERT_TRUE(location) << entry.path << ": block " << id.hex() << " is in no pack";
            const BlockPlacement& placement = location->placement;
            auto stored = storage.read_range(pack_key(*location->pack_id), placement.offset,
                                             placement.stored_length);
            ASSERT_TRUE(stored) << stored.error().message;
            std::string plaintext;
            auto status = decode_block(*stored, id, placement, reader, plaintext, {},
                                       BlockCheck::stored_checksum);
            ASSERT_TRUE(status) << entry.path << ": " << status.error().message;
            EXPECT_EQ(BlockId::of(plaintext), id) << entry.path;
            if (placement.codec == BlockCodec::zstd) {
                ++zstd_blocks;
                std::string trailer;
                append_block_checksum(trailer, plaintext);
                EXPECT_TRUE(stored->ends_with(trailer)) << entry.path << ": block " << id.hex();
            } else {
                ++raw_blocks;
            }
        }
    }
    EXPECT_EQ(zstd_blocks, 338u);
    EXPECT_EQ(raw_blocks, 3u);
    EXPECT_EQ(reader.checked.by_checksum, zstd_blocks);
    EXPECT_EQ(reader.checked.by_id, raw_blocks);
}
