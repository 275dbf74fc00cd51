// Backup manifests (docs/repository-format.md, "MNFT").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "repository/manifest.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;
using nlohmann::json;

namespace {

Timestamp at(const char* text) {
    auto t = parse_iso8601(text);
    EXPECT_TRUE(t) << text;
    return t.value_or(Timestamp{});
}

// A manifest with every field set to something other than its default.
Manifest full_manifest(const std::string& id = "20261126T080000Z") {
    Manifest m;
    m.id = id;
    m.source = SourceInfo{"postgres-physical", "7312345678901234567", 150018};
    m.postgres.pgdata = "/var/lib/postgresql/15/main";
    m.postgres.wal_segment_size = 64ull * 1024 * 1024;
    m.postgres.data_checksums = true;
    m.postgres.block_size = 16384;
    m.start_time = at("2026-11-26T08:00:00.123456Z");
    m.stop_time = at("2026-11-26T08:00:04.5Z");
    m.start_lsn = "0/2000028";
    m.stop_lsn = "0/2000138";
    m.timeline = 3;
    m.start_wal = "000000030000000000000002";
    m.stop_wal = "000000030000000000000003";
    m.postgres.backup_label =
        "START WAL LOCATION: 0/2000028 (file 000000030000000000000002)\nLABEL: lifeboat\n";
    m.postgres.tablespace_map = "16385 /srv/ts1\n16386 /srv/ts 2\n";
    m.postgres.tablespaces = {{16385, "/srv/ts1"}, {16386, "/srv/ts 2"}};
    m.tags = {{"purpose", "pre-maintenance"}, {"ticket", "OPS-42"}, {"unicode", "bäckup ✓"}};
    m.stats = BackupStats{.files = 1234,
                          .data_bytes = 23456789,
                          .stored_bytes = 3456789,
                          .new_blocks = 120,
                          .duration_seconds = 4.25};
    m.postgres.page_checksum_failures = {{"base/5/16384", 7}, {"base/5/16390.1", 131073}};
    m.indexes = {std::string(64, 'a'), std::string(64, 'b')};
    m.entries = {
        ManifestEntry{"base", EntryType::directory, 0700, 0, 0, "", {}},
        ManifestEntry{"base/5/16384",
                      EntryType::file,
                      0600,
                      270'000,
                      1764144000,
                      "",
                      {BlockId::of("block one"), BlockId::of("block two")}},
        ManifestEntry{"base/5/empty", EntryType::file, 0640, 0, 1764144001, "", {}},
        ManifestEntry{"pg_tblspc/16385", EntryType::symlink, 0600, 0, 0, "/srv/ts1", {}},
    };
    return m;
}

void expect_same_manifest(const Manifest& a, const Manifest& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.source.kind, b.source.kind);
    EXPECT_EQ(a.source.system_identifier, b.source.system_identifier);
    EXPECT_EQ(a.source.server_version, b.source.server_version);
    EXPECT_EQ(a.postgres.pgdata, b.postgres.pgdata);
    EXPECT_EQ(a.postgres.wal_segment_size, b.postgres.wal_segment_size);
    EXPECT_EQ(a.postgres.data_checksums, b.postgres.data_checksums);
    EXPECT_EQ(a.postgres.block_size, b.postgres.block_size);
    EXPECT_EQ(a.start_time, b.start_time);
    EXPECT_EQ(a.stop_time, b.stop_time);
    EXPECT_EQ(a.start_lsn, b.start_lsn);
    EXPECT_EQ(a.stop_lsn, b.stop_lsn);
    EXPECT_EQ(a.timeline, b.timeline);
    EXPECT_EQ(a.start_wal, b.start_wal);
    EXPECT_EQ(a.stop_wal, b.stop_wal);
    EXPECT_EQ(a.postgres.backup_label, b.postgres.backup_label);
    EXPECT_EQ(a.postgres.tablespace_map, b.postgres.tablespace_map);
    ASSERT_EQ(a.postgres.tablespaces.size(), b.postgres.tablespaces.size());
    for (std::size_t i = 0; i < a.postgres.tablespaces.size(); ++i) {
        EXPECT_EQ(a.postgres.tablespaces[i].oid, b.postgres.tablespaces[i].oid);
        EXPECT_EQ(a.postgres.tablespaces[i].location, b.postgres.tablespaces[i].location);
    }
    EXPECT_EQ(a.tags, b.tags);
    EXPECT_EQ(a.stats.files, b.stats.files);
    EXPECT_EQ(a.stats.data_bytes, b.stats.data_bytes);
    EXPECT_EQ(a.stats.stored_bytes, b.stats.stored_bytes);
    EXPECT_EQ(a.stats.new_blocks, b.stats.new_blocks);
    EXPECT_EQ(a.stats.duration_seconds, b.stats.duration_seconds);
    ASSERT_EQ(a.postgres.page_checksum_failures.size(), b.postgres.page_checksum_failures.size());
    for (std::size_t i = 0; i < a.postgres.page_checksum_failures.size(); ++i) {
        EXPECT_EQ(a.postgres.page_checksum_failures[i].path,
                  b.postgres.page_checksum_failures[i].path);
        EXPECT_EQ(a.postgres.page_checksum_failures[i].block,
                  b.postgres.page_checksum_failures[i].block);
    }
    EXPECT_EQ(a.indexes, b.indexes);
    ASSERT_EQ(a.entries.size(), b.entries.size());
    for (std::size_t i = 0; i < a.entries.size(); ++i) {
        const auto& x = a.entries[i];
        const auto& y = b.entries[i];
        EXPECT_EQ(x.path, y.path);
        EXPECT_EQ(x.type, y.type) << x.path;
        EXPECT_EQ(x.mode, y.mode) << x.path;
        EXPECT_EQ(x.size, y.size) << x.path;
        EXPECT_EQ(x.mtime, y.mtime) << x.path;
        EXPECT_EQ(x.link_target, y.link_target) << x.path;
        EXPECT_EQ(x.blocks, y.blocks) << x.path;
    }
}

std::string block_hex(std::string_view plaintext) {
    return BlockId::of(plaintext).hex();
}

// A v1 manifest with only its required fields (backup 20261126T100000Z, no entries).
json minimal_v1_json() {
    return {
        {"id", "20261126T100000Z"},
        {"source", {{"kind", "postgres"}}},
        {"start_time", "2026-11-26T10:00:00Z"},
        {"stop_time", "2026-11-26T10:00:01Z"},
        {"start_lsn", "0/4000028"},
        {"stop_lsn", "0/4000100"},
        {"timeline", 1},
        {"start_wal", "000000010000000000000004"},
        {"stop_wal", "000000010000000000000004"},
        {"backup_label", "label"},
        {"entries", json::array()},
    };
}

class ManifestTest : public ScratchTest {
  protected:
    // Stores `text` as a manifest with envelope `version` (1: the layout older Lifeboats wrote).
    void put_manifest_json(const std::string& id, const std::string& text,
                           std::uint32_t version = 1) {
        auto object = encode_object(ObjectKind::manifest, text, PayloadCompression::zstd);
        ASSERT_TRUE(object) << object.error().message;
        put_u32le(*object, 12, version);
        object->replace(object->size() - k_trailer_size, k_trailer_size,
                        digest_bytes(sha256(object->substr(0, object->size() - k_trailer_size))));
        ASSERT_TRUE(storage().write(manifest_key(id), *object, Overwrite::allow));
    }
};

}  // namespace

TEST_F(ManifestTest, KeyIsBackupsSlashId) {
    EXPECT_EQ(manifest_key("20261126T080000Z"), "backups/20261126T080000Z");
    EXPECT_EQ(manifest_key("20261126T080000Z_2"), "backups/20261126T080000Z_2");
}

TEST_F(ManifestTest, WriteThenReadRoundTripsEveryField) {
    const Manifest written = full_manifest();
    auto status = write_manifest(storage(), written);
    ASSERT_TRUE(status) << status.error().message;
    auto read = read_manifest(storage(), written.id);
    ASSERT_TRUE(read) << read.error().message;
    expect_same_manifest(*read, written);
}

TEST_F(ManifestTest, StoredObjectIsAZstdMnftEnvelopeAroundTheDocumentedJson) {
    const Manifest written = full_manifest();
    ASSERT_TRUE(write_manifest(storage(), written));
    const std::string key = manifest_key(written.id);
    const std::string bytes = storage().read(key).value_or("");
    EXPECT_EQ(bytes.substr(0, k_header_size),
              encode_header(ObjectKind::manifest, k_flag_zstd_payload));
    auto payload = decode_object(bytes, ObjectKind::manifest, key);
    ASSERT_TRUE(payload) << payload.error().message;
    EXPECT_EQ(object_version(bytes), 2u);
    const json j = json::parse(*payload);
    for (const char* field : {"format", "id", "source", "start_time", "stop_time", "log", "tags",
                              "stats", "indexes", "entries", "postgres_physical"}) {
        EXPECT_TRUE(j.contains(field)) << field;
    }
    EXPECT_EQ(j.at("format"), 2);
    EXPECT_EQ(j.at("start_time"), "2026-11-26T08:00:00.123456Z");
    EXPECT_EQ(j.at("source"), (json{{"kind", "postgres-physical"},
                                    {"identity", "7312345678901234567"},
                                    {"server_version", 150018}}));
    EXPECT_EQ(j.at("log"), (json{{"branch", 3},
                                 {"start", "0/2000028"},
                                 {"stop", "0/2000138"},
                                 {"first_object", "000000030000000000000002"},
                                 {"last_object", "000000030000000000000003"}}));
    const json& pg = j.at("postgres_physical");
    for (const char* field :
         {"pgdata", "wal_segment_size", "data_checksums", "block_size", "backup_label",
          "tablespace_map", "tablespaces", "page_checksum_failures"}) {
        EXPECT_TRUE(pg.contains(field)) << field;
    }
    EXPECT_EQ(j.at("entries").at(0), (json{{"path", "base"}, {"type", "dir"}, {"mode", 448}}));
    EXPECT_EQ(j.at("entries").at(1).at("type"), "file");
    EXPECT_EQ(j.at("entries").at(1).at("mode"), 384);
    EXPECT_EQ(j.at("entries").at(1).at("blocks").at(0), block_hex("block one"));
    EXPECT_EQ(j.at("entries").at(3),
              (json{{"path", "pg_tblspc/16385"}, {"type", "link"}, {"target", "/srv/ts1"}}));
    EXPECT_EQ(pg.at("page_checksum_failures").at(0),
              (json{{"path", "base/5/16384"}, {"block", 7}}));
}

TEST_F(ManifestTest, ManifestsAreNeverOverwritten) {
    const Manifest first = full_manifest();
    ASSERT_TRUE(write_manifest(storage(), first));
    Manifest second = full_manifest();
    second.tags = {{"purpose", "impostor"}};
    second.entries.clear();
    auto status = write_manifest(storage(), second);
    EXPECT_TRUE(fails_with(status, ErrorCode::conflict));
    auto read = read_manifest(storage(), first.id);
    ASSERT_TRUE(read) << read.error().message;
    expect_same_manifest(*read, first);
}

TEST_F(ManifestTest, MissingBackupIsNotFoundNamingIt) {
    EXPECT_TRUE(fails_with(read_manifest(storage(), "20261126T080000Z"), ErrorCode::not_found,
                           "20261126T080000Z"));
}

TEST_F(ManifestTest, UnknownFieldsAreIgnored) {
    const json j = {
        {"id", "20261126T090000Z"},
        {"future_top_level", {{"nested", {1, 2, 3}}}},
        {"source",
         {{"kind", "postgres"},
          {"system_identifier", "42"},
          {"server_version", 150018},
          {"pgdata", "/pgdata"},
          {"wal_segment_size", 16777216},
          {"data_checksums", true},
          {"block_size", 8192},
          {"future_source_field", "x"}}},
        {"start_time", "2026-11-26T09:00:00Z"},
        {"stop_time", "2026-11-26T09:00:05Z"},
        {"start_lsn", "0/3000028"},
        {"stop_lsn", "0/3000100"},
        {"timeline", 1},
        {"start_wal", "000000010000000000000003"},
        {"stop_wal", "000000010000000000000003"},
        {"backup_label", "label"},
        {"tablespace_map", ""},
        {"tablespaces", {{{"oid", 16385}, {"location", "/srv/ts1"}, {"future", true}}}},
        {"tags", {{"k", "v"}}},
        {"stats",
         {{"files", 1},
          {"data_bytes", 3},
          {"stored_bytes", 3},
          {"new_blocks", 1},
          {"duration_seconds", 0.5},
          {"future_stat", 9}}},
        {"page_checksum_failures", {{{"path", "base/1/1"}, {"block", 2}, {"future", 0}}}},
        {"indexes", {std::string(64, 'c')}},
        {"encryption", {{"scheme", "later"}}},
        {"entries",
         {{{"path", "PG_VERSION"},
           {"type", "file"},
           {"mode", 384},
           {"size", 3},
           {"mtime", 1},
           {"blocks", {block_hex("15\n")}},
           {"future_entry_field", {1, 2}}},
          {{"path", "base"}, {"type", "dir"}, {"mode", 448}, {"owner", "postgres"}}}},
    };
    put_manifest_json("20261126T090000Z", j.dump());
    auto read = read_manifest(storage(), "20261126T090000Z");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->id, "20261126T090000Z");
    EXPECT_EQ(read->source.system_identifier, "42");
    EXPECT_EQ(read->stop_time, at("2026-11-26T09:00:05Z"));
    ASSERT_EQ(read->postgres.tablespaces.size(), 1u);
    EXPECT_EQ(read->postgres.tablespaces[0].oid, 16385u);
    EXPECT_EQ(read->stats.duration_seconds, 0.5);
    ASSERT_EQ(read->postgres.page_checksum_failures.size(), 1u);
    EXPECT_EQ(read->postgres.page_checksum_failures[0].block, 2u);
    ASSERT_EQ(read->entries.size(), 2u);
    EXPECT_EQ(read->entries[0].blocks, std::vector<BlockId>{BlockId::of("15\n")});
    EXPECT_EQ(read->entries[1].type, EntryType::directory);
    EXPECT_EQ(read->entries[1].mode, 0700u);
}

TEST_F(ManifestTest, OptionalFieldsMayBeAbsent) {
    const json j = minimal_v1_json();
    put_manifest_json("20261126T100000Z", j.dump());
    auto read = read_manifest(storage(), "20261126T100000Z");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->postgres.tablespace_map, "");
    EXPECT_TRUE(read->postgres.tablespaces.empty());
    EXPECT_TRUE(read->tags.empty());
    EXPECT_TRUE(read->indexes.empty());
    EXPECT_EQ(read->postgres.block_size, 8192u);
    EXPECT_EQ(read->postgres.wal_segment_size, 16u * 1024 * 1024);
    EXPECT_EQ(read->stats.files, 0u);
}

TEST_F(ManifestTest, MalformedManifestsAreCorruptNamingTheKey) {
    const std::string key = manifest_key("20261126T110000Z");
    json good = json::parse(
        R"({"id":"20261126T110000Z","source":{"kind":"postgres"},"start_time":"2026-11-26T11:00:00Z",
            "stop_time":"2026-11-26T11:00:01Z","start_lsn":"0/1","stop_lsn":"0/2","timeline":1,
            "start_wal":"000000010000000000000001","stop_wal":"000000010000000000000001",
            "backup_label":"l","entries":[]})");
    put_manifest_json("20261126T110000Z", good.dump());
    ASSERT_TRUE(read_manifest(storage(), "20261126T110000Z"));

    std::vector<std::pair<std::string, std::string>> cases;
    cases.emplace_back("not JSON", "{\"id\": ");
    cases.emplace_back("not an object", "[1, 2]");
    json missing = good;
    missing.erase("stop_lsn");
    cases.emplace_back("required field missing", missing.dump());
    json bad_time = good;
    bad_time["start_time"] = "yesterday";
    cases.emplace_back("bad time", bad_time.dump());
    json no_zone = good;
    no_zone["stop_time"] = "2026-11-26T11:00:01";
    cases.emplace_back("time without zone", no_zone.dump());
    json bad_type = good;
    bad_type["entries"] = {{{"path", "x"}, {"type", "fifo"}}};
    cases.emplace_back("unknown entry type", bad_type.dump());
    json bad_block = good;
    bad_block["entries"] = {{{"path", "x"}, {"type", "file"}, {"size", 1}, {"blocks", {"abc"}}}};
    cases.emplace_back("malformed block id", bad_block.dump());
    json wrong_kind = good;
    wrong_kind["timeline"] = "one";
    cases.emplace_back("wrong JSON type", wrong_kind.dump());
    for (const auto& [why, text] : cases) {
        put_manifest_json("20261126T110000Z", text);
        EXPECT_TRUE(
            fails_with(read_manifest(storage(), "20261126T110000Z"), ErrorCode::corrupt, key))
            << why;
    }
}

TEST_F(ManifestTest, DamagedManifestObjectIsCorruptNamingTheKey) {
    const Manifest written = full_manifest();
    ASSERT_TRUE(write_manifest(storage(), written));
    const std::string key = manifest_key(written.id);
    const std::string bytes = storage().read(key).value();
    ASSERT_TRUE(storage().write(key, flip_byte(bytes, bytes.size() / 2), Overwrite::allow));
    EXPECT_TRUE(fails_with(read_manifest(storage(), written.id), ErrorCode::corrupt, key));
    EXPECT_TRUE(fails_with(read_all_manifests(storage()), ErrorCode::corrupt, key));
}

TEST_F(ManifestTest, ListsIdsSortedAndReadsAllManifestsOldestFirst) {
    // Ids sort by name; manifests come back by start time (here deliberately the other way).
    Manifest a = full_manifest("20261126T080000Z");
    a.start_time = at("2026-11-26T09:00:00Z");
    Manifest b = full_manifest("20261126T080000Z_2");
    b.start_time = at("2026-11-26T07:00:00Z");
    Manifest c = full_manifest("20261125T235959Z");
    c.start_time = at("2026-11-26T08:00:00Z");
    for (const auto* m : {&a, &b, &c})
        ASSERT_TRUE(write_manifest(storage(), *m));

    auto ids = list_backup_ids(storage());
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_EQ(*ids, (std::vector<std::string>{"20261125T235959Z", "20261126T080000Z",
                                              "20261126T080000Z_2"}));
    auto all = read_all_manifests(storage());
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].id, "20261126T080000Z_2");
    EXPECT_EQ((*all)[1].id, "20261125T235959Z");
    EXPECT_EQ((*all)[2].id, "20261126T080000Z");
}

TEST_F(ManifestTest, EmptyRepositoryHasNoBackups) {
    auto ids = list_backup_ids(storage());
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_TRUE(ids->empty());
    auto all = read_all_manifests(storage());
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_TRUE(all->empty());
}

TEST(BackupId, PathsAndControlCharactersAreUsageErrors) {
    for (const char* good : {"20260131T020000Z", "20260131T020000Z_2", "nightly-1.a"})
        EXPECT_TRUE(check_backup_id(good)) << good;
    for (const char* bad : {"", "../x", "a/b", ".hidden", "a b", "x\n"}) {
        auto status = check_backup_id(bad);
        ASSERT_FALSE(status) << bad;
        EXPECT_EQ(status.error().code, ErrorCode::usage) << bad;
        EXPECT_NE(status.error().message.find("invalid backup id"), std::string::npos);
    }
}

// Header reads (what list, the window and restore's choice use): everything but the entries,
// which are skipped unparsed; a whole read is unchanged.
TEST_F(ManifestTest, AHeaderReadGivesEverythingButTheEntries) {
    Manifest written = full_manifest();
    // Paths holding what the skipping must not take for the array's end.
    written.entries.push_back(ManifestEntry{
        "base/5/odd \"]}[{\\ name", EntryType::file, 0600, 1, 1764144002, "", {BlockId::of("x")}});
    written.entries.push_back(
        ManifestEntry{"base/5/ends in a backslash \\", EntryType::file, 0600, 0, 1, "", {}});
    ASSERT_TRUE(write_manifest(storage(), written));
    auto headers = read_manifests(storage(), ManifestParts::header);
    ASSERT_TRUE(headers) << headers.error().message;
    ASSERT_EQ(headers->backups.size(), 1u);
    const Manifest& header = headers->backups.front();
    EXPECT_FALSE(header.entries_read);
    EXPECT_TRUE(header.entries.empty());
    Manifest without_entries = written;
    without_entries.entries.clear();
    expect_same_manifest(header, without_entries);

    auto whole = read_manifests(storage());
    ASSERT_TRUE(whole) << whole.error().message;
    ASSERT_EQ(whole->backups.size(), 1u);
    EXPECT_TRUE(whole->backups.front().entries_read);
    expect_same_manifest(whole->backups.front(), written);
}

TEST_F(ManifestTest, AHeaderReadSkipsEntriesAWholeReadRefuses) {
    const Manifest written = full_manifest();
    ASSERT_TRUE(write_manifest(storage(), written));
    const std::string key = manifest_key(written.id);
    std::string text = *decode_object(*storage().read(key), ObjectKind::manifest, key);
    ASSERT_TRUE(text.starts_with("{\"entries\":["));
    const std::string block = BlockId::of("block one").hex();
    text.replace(text.find(block), block.size(), "abc");
    put_manifest_json(written.id, text, 2);

    auto headers = read_manifests(storage(), ManifestParts::header);
    ASSERT_TRUE(headers) << headers.error().message;
    EXPECT_EQ(headers->backups.size(), 1u);
    EXPECT_TRUE(headers->damaged.empty());
    auto whole = read_manifests(storage());
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_TRUE(whole->backups.empty());
    ASSERT_EQ(whole->damaged.size(), 1u);
    EXPECT_EQ(whole->damaged.front().key, key);
    EXPECT_TRUE(fails_with(read_manifest(storage(), written.id), ErrorCode::corrupt, key));
}

TEST_F(ManifestTest, AHeaderReadOfAnotherLayoutAndOfBrokenHeadersIsStillChecked) {
    // Keys in another order (entries not first): read by the streaming parser, entries dropped.
    json other = minimal_v1_json();
    other["entries"] = {{{"path", "PG_VERSION"}, {"type", "file"}, {"size", 3}, {"mode", 384}}};
    put_manifest_json("20261126T100000Z", other.dump());
    auto headers = read_manifests(storage(), ManifestParts::header);
    ASSERT_TRUE(headers) << headers.error().message;
    ASSERT_EQ(headers->backups.size(), 1u);
    EXPECT_EQ(headers->backups.front().stop_lsn, "0/4000100");
    EXPECT_TRUE(headers->backups.front().entries.empty());
    EXPECT_FALSE(headers->backups.front().entries_read);

    // A header field broken in the written layout: damaged for a header read too.
    const Manifest written = full_manifest("20261126T110000Z");
    ASSERT_TRUE(write_manifest(storage(), written));
    const std::string key = manifest_key(written.id);
    std::string text = *decode_object(*storage().read(key), ObjectKind::manifest, key);
    text.replace(text.find("\"branch\":3"), 10, "\"branch\":0");
    put_manifest_json(written.id, text, 2);
    // An entries array never closed: not skipped past, read (and refused) by the parser.
    put_manifest_json("20261126T120000Z", "{\"entries\":[{\"path\":\"a\"}", 2);
    headers = read_manifests(storage(), ManifestParts::header);
    ASSERT_TRUE(headers) << headers.error().message;
    EXPECT_EQ(headers->backups.size(), 1u);
    ASSERT_EQ(headers->damaged.size(), 2u);
    EXPECT_EQ(headers->damaged[0].key, key);
    EXPECT_NE(headers->damaged[0].reason.find("branch"), std::string::npos)
        << headers->damaged[0].reason;
}
