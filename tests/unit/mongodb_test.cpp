// The mongodb source's parts that need no server: BSON handling, entry paths, sampling, the
// document stream of an entry, the manifest payload, the log archive of this increment, and the
// restore target's refusals before any connection.
#include <gtest/gtest.h>

#include "drivers/mongodb/catalog.hpp"
#include "drivers/mongodb/log_archive.hpp"
#include "drivers/mongodb/restore_target.hpp"
#include "drivers/mongodb/validate.hpp"
#include "repository/manifest.hpp"
#include "sources/mongodb/bson.hpp"
#include "sources/mongodb/client.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {
namespace {

using mongodb::Bson;
using namespace mongodb_driver;

// Canonical extended JSON of a document with the types a backup must keep.
constexpr std::string_view k_typed_document =
    R"({"_id": {"$oid": "6b0cf4458417ba454fdd1119"}, "price": {"$numberDecimal": "12.25"}, )"
    R"("bin": {"$binary": {"base64": "AQID", "subType": "04"}}, )"
    R"("at": {"$date": {"$numberLong": "1767225600000"}}, "nested": {"tags": ["x", 1]}})";

TEST(MongoBson, TypesSurviveCanonicalJsonAndBytes) {
    auto doc = Bson::from_json(k_typed_document);
    ASSERT_TRUE(doc) << doc.error().message;
    const std::string json = doc->canonical_json();
    EXPECT_NE(json.find("$numberDecimal"), std::string::npos) << json;
    EXPECT_NE(json.find("\"subType\" : \"04\""), std::string::npos) << json;
    auto again = Bson::from_json(json);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->bytes(), doc->bytes());
    auto from_bytes = Bson::from_bytes(doc->bytes());
    ASSERT_TRUE(from_bytes) << from_bytes.error().message;
    EXPECT_EQ(from_bytes->bytes(), doc->bytes());
}

TEST(MongoBson, MalformedInputIsCorrupt) {
    EXPECT_EQ(Bson::from_json("{not json").error().code, ErrorCode::corrupt);
    const Bson doc = Bson::from_json(k_typed_document).value();
    std::string bytes(doc.bytes());
    EXPECT_EQ(Bson::from_bytes(bytes.substr(0, bytes.size() - 1)).error().code, ErrorCode::corrupt);
    bytes[bytes.size() - 1] = 'x';  // the terminating NUL
    EXPECT_FALSE(Bson::from_bytes(bytes));
    EXPECT_EQ(mongodb::document_length("abc"), 0u);
}

TEST(MongoCatalog, EntryPathsAreOneSafeComponentPerName) {
    EXPECT_EQ(entry_path("shop", "orders"), "shop/orders.bson");
    EXPECT_EQ(entry_path("shop", "a/b%c"), "shop/a%2Fb%25c.bson");
    EXPECT_EQ(entry_path("shop", ".."), "shop/%2E..bson");
    EXPECT_EQ(entry_path("shop", "x\\y"), "shop/x%5Cy.bson");
}

TEST(MongoCatalog, SamplesAreSpreadAndBounded) {
    for (std::uint64_t count : {0ull, 1ull, 15ull, 16ull, 17ull, 1000ull, 100003ull}) {
        std::uint64_t sampled = 0;
        for (std::uint64_t i = 0; i < count; ++i)
            sampled += is_sampled(i, count) ? 1 : 0;
        EXPECT_EQ(sampled, std::min<std::uint64_t>(count, k_samples_per_collection)) << count;
        if (count) {
            EXPECT_TRUE(is_sampled(0, count));  // the first document always
        }
    }
}

TEST(MongoCatalog, IdFilterAndHashOfADocument) {
    const Bson doc = Bson::from_json(k_typed_document).value();
    auto filter = id_filter_json(*doc.get());
    ASSERT_TRUE(filter);
    EXPECT_EQ(*filter, R"({ "_id" : { "$oid" : "6b0cf4458417ba454fdd1119" } })");
    EXPECT_EQ(document_hash(*doc.get()).size(), 64u);
    const Bson no_id = Bson::from_json(R"({"a": 1})").value();
    EXPECT_EQ(id_filter_json(*no_id.get()).error().code, ErrorCode::corrupt);
}

TEST(MongoCatalog, TheSplitterFindsDocumentsAcrossAnyPieces) {
    std::string stream;
    std::vector<std::string> docs;
    for (int i = 0; i < 50; ++i) {
        const Bson d = Bson::from_json(fmt::format(R"({{"i": {}, "s": "{}"}})", i,
                                                   std::string(static_cast<std::size_t>(i), 'z')))
                           .value();
        docs.emplace_back(d.bytes());
        stream += d.bytes();
    }
    for (std::size_t piece : {1u, 3u, 7u, 64u, 100000u}) {
        DocumentSplitter splitter;
        std::vector<std::string> got;
        for (std::size_t at = 0; at < stream.size(); at += piece) {
            ASSERT_TRUE(splitter.add(std::string_view(stream).substr(at, piece),
                                     [&](std::string_view d) -> Status {
                                         got.emplace_back(d);
                                         return {};
                                     }));
        }
        EXPECT_TRUE(splitter.finish());
        EXPECT_EQ(got, docs) << "pieces of " << piece;
    }
    DocumentSplitter cut;
    ASSERT_TRUE(cut.add(std::string_view(stream).substr(0, stream.size() - 2),
                        [](std::string_view) -> Status { return {}; }));
    EXPECT_EQ(cut.finish().error().code, ErrorCode::corrupt);
}

TEST(MongoCatalog, OnlyMatchesADatabaseOrOneCollection) {
    repo::MongoCollection c;
    c.database = "shop";
    c.name = "orders";
    EXPECT_TRUE(matches_only(c, ""));
    EXPECT_TRUE(matches_only(c, "shop"));
    EXPECT_TRUE(matches_only(c, "shop.orders"));
    EXPECT_FALSE(matches_only(c, "shop.customers"));
    EXPECT_FALSE(matches_only(c, "sho"));
}

TEST(MongoClient, UrisLoseTheirPasswordInMessages) {
    EXPECT_EQ(mongodb::redact_uri("mongodb://u:secret@h:27017/?tls=true"),
              "mongodb://u:***@h:27017/?tls=true");
    EXPECT_EQ(mongodb::redact_uri("mongodb://h:27017/"), "mongodb://h:27017/");
    auto bad = mongodb::Client::connect("http://nothing", {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::usage);
}

repo::Manifest mongo_manifest() {
    repo::Manifest m;
    m.id = "20261130T040000Z";
    m.source = {std::string(repo::k_kind_mongodb), "1234567890123", 70000};
    m.start_time = Timestamp{1764475200000000};
    m.stop_time = Timestamp{1764475201000000};
    repo::ManifestEntry e;
    e.path = "shop/orders.bson";
    e.size = 3;
    e.blocks.push_back(repo::BlockId{});
    m.entries = {e};
    repo::MongoCollection orders{.database = "shop",
                                 .name = "orders",
                                 .type = "collection",
                                 .options_json = R"({ "capped" : true, "size" : 4096 })",
                                 .indexes_json = R"({ "indexes" : [ ] })",
                                 .path = "shop/orders.bson",
                                 .documents = 3,
                                 .samples = {{R"({ "_id" : 1 })", std::string(64, 'a')}}};
    repo::MongoCollection view{.database = "shop",
                               .name = "recent",
                               .type = "view",
                               .options_json = R"({ "viewOn" : "orders", "pipeline" : [ ] })",
                               .indexes_json = R"({ "indexes" : [ ] })"};
    m.mongodb.collections = {orders, view};
    return m;
}

TEST(MongoManifest, ThePayloadIsWrittenAndReadBack) {
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-mongo-manifest-").value();
    PosixStorage storage(dir.path());
    const repo::Manifest m = mongo_manifest();
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto back = repo::read_manifest(storage, m.id);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->source.kind, "mongodb");
    EXPECT_EQ(back->mongodb.collections, m.mongodb.collections);
}

TEST(MongoManifest, ACollectionWithoutItsEntryIsDamage) {
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-mongo-manifest-").value();
    PosixStorage storage(dir.path());
    repo::Manifest m = mongo_manifest();
    m.mongodb.collections[0].path = "shop/ghost.bson";
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto back = repo::read_manifest(storage, m.id);
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().code, ErrorCode::corrupt);
    EXPECT_NE(back.error().message.find("shop.orders"), std::string::npos) << back.error().message;
}

TEST(MongoLogArchive, EveryBackupIsConsistentAloneAndNothingIsRemovable) {
    const MongoLogArchive archive;
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-mongo-archive-").value();
    PosixStorage storage(dir.path());
    const repo::Manifest m = mongo_manifest();
    auto window = archive.follow(storage, {m});
    ASSERT_TRUE(window) << window.error().message;
    ASSERT_EQ(window->backups.size(), 1u);
    EXPECT_TRUE(window->backups[0].consistent);
    EXPECT_EQ(window->backups[0].from, m.stop_time);
    EXPECT_FALSE(window->backups[0].to);
    EXPECT_TRUE(archive.removable({"000000010000000000000001"}, {&m}, m).value().empty());
    EXPECT_EQ(archive.check_object(storage, "x", "").error().code, ErrorCode::usage);
}

TEST(MongoRestoreTarget, RefusesWithoutATargetServerOrAnUnknownOnly) {
    const repo::Manifest m = mongo_manifest();
    MongoRestoreTarget no_server({.target_dir = "/nonexistent"});
    EXPECT_EQ(no_server.check_and_place(m).error().code, ErrorCode::usage);
    MongoRestoreTarget unknown({.target_dir = "/nonexistent",
                                .target_conninfo = "mongodb://127.0.0.1:1/",
                                .only_table = "shop.nothing"});
    auto refused = unknown.check_and_place(m);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::not_found);
}

TEST(MongoValidate, NeedsTheBackupsRecord) {
    auto report = validate({.conninfo = "mongodb://127.0.0.1:1/"});
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, ErrorCode::usage);
}

}  // namespace
}  // namespace lifeboat
