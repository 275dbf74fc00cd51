// The change-event applier (drivers/mongodb/change_apply.hpp): its refusals (an unknown
// operationType is unsupported, an event without ns is corrupt, a write the server refuses names
// its event), `only` filtering with renames into and out of the restored part, idempotent
// re-application, and updates of field names with dots (document_edit.hpp), against one CongoDB
// server (skipped without node/CongoDB). The random-sequence property test is
// mongodb_apply_property_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "congodb_test_server.hpp"
#include "drivers/mongodb/change_apply.hpp"
#include "drivers/mongodb/document_edit.hpp"

namespace lifeboat {
namespace {

using mongodb::Bson;
using namespace mongodb_driver;

Bson json(std::string_view text) {
    auto doc = Bson::from_json(text);
    EXPECT_TRUE(doc) << text;
    return doc ? std::move(*doc) : Bson();
}

// Canonical JSON of every document of db.collection, in _id order.
std::vector<std::string> documents(const mongodb::Client& client, const std::string& db,
                                   const std::string& collection) {
    std::vector<std::string> out;
    const Bson options = json(R"({"sort": {"_id": 1}})");
    auto status = client.find(db, collection, Bson(), options, [&](mongodb::DocumentRef doc) {
        out.push_back(Bson::copy_of(*doc.doc).canonical_json());
        return Status{};
    });
    EXPECT_TRUE(status) << status.error().message;
    return out;
}

std::vector<std::string> collections(const mongodb::Client& client, const std::string& db) {
    std::vector<std::string> out;
    for (const auto& info : client.list_collections(db).value_or(std::vector<Bson>{})) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, info.get(), "name"))
            out.emplace_back(bson_iter_utf8(&it, nullptr));
    }
    std::sort(out.begin(), out.end());
    return out;
}

class MongoApply : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!congodb_test::available()) return;
        s_server = std::make_unique<congodb_test::Server>();
    }
    static void TearDownTestSuite() { s_server.reset(); }

    void SetUp() override {
        if (!congodb_test::available())
            GTEST_SKIP() << "node or CongoDB (tests/mongo, scripts/install-deps.sh) is missing";
        ASSERT_FALSE(s_server->uri().empty()) << "CongoDB did not start: " << s_server->log();
        auto client = mongodb::Client::connect(s_server->uri(), {});
        ASSERT_TRUE(client) << client.error().message;
        m_client = std::make_unique<mongodb::Client>(std::move(*client));
        for (const auto& db : m_client->database_names().value_or(std::vector<std::string>{})) {
            if (db != "admin" && db != "local" && db != "config") {
                ASSERT_TRUE(m_client->drop_database(db));
            }
        }
    }

    static std::unique_ptr<congodb_test::Server> s_server;
    std::unique_ptr<mongodb::Client> m_client;
};

std::unique_ptr<congodb_test::Server> MongoApply::s_server;

// An ObjectId _id (CongoDB keeps no other kind: it replaces an upserted integer _id).
std::string oid(int id) {
    return fmt::format(R"({{"$oid": "{:024x}"}})", id);
}

std::string insert_event(std::string_view db, std::string_view coll, int id, int value) {
    return fmt::format(
        R"({{"operationType": "insert", "ns": {{"db": "{}", "coll": "{}"}}, )"
        R"("clusterTime": {{"$timestamp": {{"t": 100, "i": {}}}}}, "documentKey": {{"_id": {}}}, )"
        R"("fullDocument": {{"_id": {}, "v": {}}}}})",
        db, coll, id, oid(id), oid(id), value);
}

std::string rename_event(std::string_view db, std::string_view coll, std::string_view to_db,
                         std::string_view to_coll) {
    return fmt::format(R"({{"operationType": "rename", "ns": {{"db": "{}", "coll": "{}"}}, )"
                       R"("clusterTime": {{"$timestamp": {{"t": 200, "i": 1}}}}, )"
                       R"("to": {{"db": "{}", "coll": "{}"}}}})",
                       db, coll, to_db, to_coll);
}

TEST_F(MongoApply, AnUnknownOperationTypeIsUnsupportedAndNamed) {
    ChangeApplier applier(*m_client, std::nullopt);
    auto status = applier.apply(json(R"({"operationType": "createIndexes",
        "ns": {"db": "shop", "coll": "orders"}, "clusterTime": {"$timestamp": {"t": 1700, "i": 3}}})"));
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::unsupported);
    EXPECT_NE(status.error().message.find("createIndexes"), std::string::npos)
        << status.error().message;
    EXPECT_NE(status.error().message.find("1700.3"), std::string::npos) << status.error().message;
    EXPECT_NE(status.error().message.find("shop.orders"), std::string::npos);
}

TEST_F(MongoApply, AnEventWithoutNsOrTypeIsCorrupt) {
    ChangeApplier applier(*m_client, std::nullopt);
    auto no_ns = applier.apply(json(R"({"operationType": "insert", "fullDocument": {"_id": 1}})"));
    ASSERT_FALSE(no_ns);
    EXPECT_EQ(no_ns.error().code, ErrorCode::corrupt);
    auto no_type = applier.apply(json(R"({"ns": {"db": "a", "coll": "b"}})"));
    ASSERT_FALSE(no_type);
    EXPECT_EQ(no_type.error().code, ErrorCode::corrupt);
    auto no_document = applier.apply(json(R"({"operationType": "insert",
        "ns": {"db": "a", "coll": "b"}, "documentKey": {"_id": 1}})"));
    ASSERT_FALSE(no_document);
    EXPECT_EQ(no_document.error().code, ErrorCode::corrupt);
    EXPECT_EQ(applier.counts().events, 0u);
}

TEST_F(MongoApply, InvalidateIsNothing) {
    ChangeApplier applier(*m_client, std::nullopt);
    EXPECT_TRUE(applier.apply(json(R"({"operationType": "invalidate"})")));
    EXPECT_TRUE(applier.finish());
}

TEST_F(MongoApply, ARefusedBatchedWriteNamesItsEvent) {
    ChangeApplier applier(*m_client, std::nullopt);
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", 1, 5))));
    // A truncation of a field that is a number: the server refuses the $push.
    ASSERT_TRUE(applier.apply(json(R"({"operationType": "update",
        "ns": {"db": "shop", "coll": "orders"}, "clusterTime": {"$timestamp": {"t": 300, "i": 7}},
        "documentKey": {"_id": {"$oid": "000000000000000000000001"}},
        "updateDescription": {"updatedFields": {}, "removedFields": [],
                              "truncatedArrays": [{"field": "v", "newSize": 1}]}})")));
    auto finished = applier.finish();
    ASSERT_FALSE(finished);
    EXPECT_EQ(finished.error().code, ErrorCode::database);
    EXPECT_NE(finished.error().message.find("update event on shop.orders at cluster time 300.7"),
              std::string::npos)
        << finished.error().message;
    // The failure sticks: nothing after it is applied.
    EXPECT_FALSE(applier.apply(json(insert_event("shop", "orders", 2, 5))));
}

TEST_F(MongoApply, ReapplyingEventsLeavesTheSameResult) {
    ChangeApplier applier(*m_client, std::nullopt);
    for (int round = 0; round < 2; ++round) {
        ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", 1, 5))));
        ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", 2, 6))));
        ASSERT_TRUE(applier.apply(json(R"({"operationType": "delete",
            "ns": {"db": "shop", "coll": "orders"},
            "documentKey": {"_id": {"$oid": "000000000000000000000002"}}})")));
        ASSERT_TRUE(applier.apply(json(R"({"operationType": "drop",
            "ns": {"db": "shop", "coll": "gone"}})")));
        ASSERT_TRUE(applier.apply(json(rename_event("shop", "absent", "shop", "other"))));
    }
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(
        documents(*m_client, "shop", "orders"),
        std::vector<std::string>{
            R"({ "_id" : { "$oid" : "000000000000000000000001" }, "v" : { "$numberInt" : "5" } })"});
    EXPECT_EQ(applier.counts().upserted, 4u);
    EXPECT_EQ(applier.counts().deleted, 2u);
}

TEST_F(MongoApply, BatchesPastTheirBoundKeepTheOrder) {
    ChangeApplier applier(*m_client, std::nullopt);
    // More than k_apply_batch_writes writes to one collection, each document inserted then
    // changed, and a second collection in between: order per _id must survive every flush.
    const int count = static_cast<int>(k_apply_batch_writes) + 300;
    for (int id = 1; id <= count; ++id) {
        ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", id, 1))));
        ASSERT_TRUE(applier.apply(json(fmt::format(
            R"({{"operationType": "update", "ns": {{"db": "shop", "coll": "orders"}},
                "documentKey": {{"_id": {}}}, "updateDescription": {{"updatedFields": {{"v": 2}}}}}})",
            oid(id)))));
        if (id % 500 == 0) {
            ASSERT_TRUE(applier.apply(json(insert_event("shop", "other", id, 1))));
        }
    }
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(m_client->count("shop", "orders").value(), count);
    EXPECT_EQ(m_client->count("shop", "other").value(), count / 500);
    for (const auto& doc : documents(*m_client, "shop", "orders"))
        ASSERT_NE(doc.find(R"("v" : { "$numberInt" : "2" })"), std::string::npos) << doc;
    EXPECT_EQ(applier.counts().events, static_cast<std::uint64_t>(2 * count + count / 500));
}

TEST_F(MongoApply, OnlyACollectionFollowsRenamesOutOfIt) {
    ChangeApplier applier(*m_client, NamespaceFilter{"shop", "orders"});
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", 1, 1))));
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "other", 2, 2))));  // skipped
    ASSERT_TRUE(applier.apply(json(insert_event("web", "orders", 3, 3))));  // skipped
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(collections(*m_client, "shop"), std::vector<std::string>{"orders"});
    EXPECT_TRUE(collections(*m_client, "web").empty());
    EXPECT_EQ(applier.counts().events, 1u);

    ChangeApplier renames(*m_client, NamespaceFilter{"shop", "orders"});
    // Out of the part: the restored collection goes, the target is not restored.
    ASSERT_TRUE(renames.apply(json(rename_event("shop", "orders", "shop", "archive"))));
    ASSERT_TRUE(renames.finish());
    EXPECT_TRUE(collections(*m_client, "shop").empty());

    // Into the part from outside it: its documents are not in the base.
    ChangeApplier into(*m_client, NamespaceFilter{"shop", "orders"});
    auto status = into.apply(json(rename_event("shop", "staging", "shop", "orders")));
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::unsupported);
    EXPECT_NE(status.error().message.find("shop.staging"), std::string::npos)
        << status.error().message;
}

TEST_F(MongoApply, OnlyADatabaseAppliesRenamesWithinIt) {
    ChangeApplier applier(*m_client, NamespaceFilter{"shop", ""});
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "a", 1, 1))));
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "b", 2, 2))));
    ASSERT_TRUE(applier.apply(json(rename_event("shop", "a", "shop", "c"))));  // within
    ASSERT_TRUE(applier.apply(json(rename_event("shop", "b", "web", "b"))));   // out of it
    ASSERT_TRUE(applier.apply(json(rename_event("web", "x", "other", "y"))));  // elsewhere
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(collections(*m_client, "shop"), std::vector<std::string>{"c"});
    EXPECT_TRUE(collections(*m_client, "web").empty());
    EXPECT_EQ(documents(*m_client, "shop", "c").size(), 1u);
    auto into = applier.apply(json(rename_event("web", "x", "shop", "d")));
    ASSERT_FALSE(into);
    EXPECT_EQ(into.error().code, ErrorCode::unsupported);
}

TEST_F(MongoApply, DropDatabaseOfARestoredCollectionDropsOnlyIt) {
    ChangeApplier first(*m_client, std::nullopt);
    ASSERT_TRUE(first.apply(json(insert_event("shop", "keep", 1, 1))));
    ASSERT_TRUE(first.finish());
    ChangeApplier applier(*m_client, NamespaceFilter{"shop", "orders"});
    ASSERT_TRUE(applier.apply(json(insert_event("shop", "orders", 1, 1))));
    ASSERT_TRUE(applier.apply(json(R"({"operationType": "dropDatabase", "ns": {"db": "shop"}})")));
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(collections(*m_client, "shop"), std::vector<std::string>{"keep"});
    EXPECT_EQ(applier.counts().ddl, 1u);
}

TEST_F(MongoApply, DottedFieldNamesGoThroughTheWholeDocument) {
    ChangeApplier applier(*m_client, std::nullopt);
    ASSERT_TRUE(applier.apply(json(R"({"operationType": "insert",
        "ns": {"db": "shop", "coll": "odd"}, "documentKey": {"_id": {"$oid": "000000000000000000000001"}},
        "fullDocument": {"_id": {"$oid": "000000000000000000000001"}, "x": {"a.b": 1, "keep": true}, "arr": [1, 2, 3]}})")));
    ASSERT_TRUE(applier.apply(json(R"({"operationType": "update",
        "ns": {"db": "shop", "coll": "odd"}, "documentKey": {"_id": {"$oid": "000000000000000000000001"}},
        "updateDescription": {"updatedFields": {"x.a.b": 5, "arr.1": 9}, "removedFields": ["x.keep"],
            "truncatedArrays": [{"field": "arr", "newSize": 2}],
            "disambiguatedPaths": {"x.a.b": ["x", "a.b"]}}})")));
    ASSERT_TRUE(applier.finish());
    EXPECT_EQ(
        documents(*m_client, "shop", "odd"),
        std::vector<std::string>{
            R"({ "_id" : { "$oid" : "000000000000000000000001" }, "x" : { "a.b" : { "$numberInt" : "5" } }, "arr" : [ { "$numberInt" : "1" }, { "$numberInt" : "9" } ] })"});
}

// An update event on document 1 of shop.orders at cluster time 100.`increment`.
std::string update_event(int increment, std::string_view description) {
    return fmt::format(
        R"({{"operationType": "update", "ns": {{"db": "shop", "coll": "orders"}}, )"
        R"("clusterTime": {{"$timestamp": {{"t": 100, "i": {}}}}}, "documentKey": {{"_id": {}}}, )"
        R"("updateDescription": {}}})",
        increment, oid(1), description);
}

TEST_F(MongoApply, ReplayedUpdatesTheTargetRefusesAreSkippedUpToTheDumpsEnd) {
    ChangeApplier base(*m_client, std::nullopt);
    ASSERT_TRUE(base.apply(json(fmt::format(
        R"({{"operationType": "insert", "ns": {{"db": "shop", "coll": "orders"}},
            "documentKey": {{"_id": {}}}, "fullDocument": {{"_id": {}, "v": "text"}}}})",
        oid(1), oid(1)))));
    ASSERT_TRUE(base.finish());
    // Recorded while v was still an array and a document: the base holds the later string.
    const std::string truncate = update_event(
        2, R"({"updatedFields": {"w": 1}, "truncatedArrays": [{"field": "v", "newSize": 1}]})");
    const std::string dotted = update_event(
        3, R"({"updatedFields": {"v.a.b": 1}, "disambiguatedPaths": {"v.a.b": ["v", "a.b"]}})");
    const std::string later = update_event(4, R"({"updatedFields": {"x": 2}})");

    ChangeApplier replay(*m_client, std::nullopt,
                         ApplyOptions{.replay_through = ClusterTime{100, 3}});
    for (const auto* event : {&truncate, &dotted, &later})
        ASSERT_TRUE(replay.apply(json(*event)));
    auto finished = replay.finish();
    ASSERT_TRUE(finished) << finished.error().message;
    EXPECT_EQ(replay.counts().replay_refusals, 2u);
    EXPECT_EQ(
        documents(*m_client, "shop", "orders"),
        std::vector<std::string>{fmt::format(
            R"({{ "_id" : {{ "$oid" : "{:024x}" }}, "v" : "text", "w" : {{ "$numberInt" : "1" }}, "x" : {{ "$numberInt" : "2" }} }})",
            1)});

    // Past the dump's end the same refusals fail, naming the event.
    ChangeApplier strict(*m_client, std::nullopt,
                         ApplyOptions{.replay_through = ClusterTime{100, 1}});
    ASSERT_TRUE(strict.apply(json(truncate)));
    auto refused = strict.finish();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::database);
    EXPECT_NE(refused.error().message.find("cluster time 100.2"), std::string::npos)
        << refused.error().message;
    ChangeApplier strict_dotted(*m_client, std::nullopt);
    auto dotted_refused = strict_dotted.apply(json(dotted));
    ASSERT_FALSE(dotted_refused);
    EXPECT_NE(dotted_refused.error().message.find("cluster time 100.3"), std::string::npos)
        << dotted_refused.error().message;
}

// The whole-document path without a server: what the server does for each kind of path.
TEST(MongoDocumentEdit, TruncationsThenRemovalsThenSets) {
    const Bson doc = json(R"({"_id": 1, "a": [1, 2, 3, 4], "o": {"p": 1, "q": 2}, "s": 1})");
    const auto update = parse_update_description(json(R"({
        "updatedFields": {"a.1": 7, "a.3": 8, "o.n.m": 1, "new": "x"},
        "removedFields": ["o.q", "a.0"], "truncatedArrays": [{"field": "a", "newSize": 2}]})"));
    ASSERT_TRUE(update) << update.error().message;
    EXPECT_FALSE(update->needs_whole_document);
    const auto edited = apply_update_description(doc, *update);
    ASSERT_TRUE(edited) << edited.error().message;
    EXPECT_EQ(
        edited->relaxed_json(),
        R"({ "_id" : 1, "a" : [ null, 7, null, 8 ], "o" : { "p" : 1, "n" : { "m" : 1 } }, "s" : 1, "new" : "x" })");
    const auto through_scalar = parse_update_description(json(R"({"updatedFields": {"s.t": 1}})"));
    EXPECT_EQ(apply_update_description(doc, *through_scalar).error().code, ErrorCode::database);
}

TEST(MongoDocumentEdit, MalformedDescriptionsAreCorrupt) {
    for (const char* text :
         {R"({"updatedFields": [1]})", R"({"removedFields": {"a": 1}})",
          R"({"truncatedArrays": [{"field": "a"}]})", R"({"truncatedArrays": [{"newSize": 1}]})",
          R"({"disambiguatedPaths": {"a": [1.5]}})",
          R"({"disambiguatedPaths": {"a": []}, "removedFields": ["a"]})"})
        EXPECT_EQ(parse_update_description(json(text)).error().code, ErrorCode::corrupt) << text;
    const auto dotted = parse_update_description(
        json(R"({"updatedFields": {"a.b": 1}, "disambiguatedPaths": {"a.b": ["a.b"]}})"));
    ASSERT_TRUE(dotted);
    EXPECT_TRUE(dotted->needs_whole_document);
    EXPECT_EQ(dotted->sets.at(0).path, DocumentPath{"a.b"});
}

}  // namespace
}  // namespace lifeboat
