// RestoreRecordBuilder: what applied change events leave of a backup's collections and samples,
// and the record's JSON round trip (drivers/mongodb/restore_record.hpp).
#include <gtest/gtest.h>

#include "drivers/mongodb/restore_record.hpp"

namespace lifeboat::mongodb_driver {
namespace {

const std::string k_id1 = R"({ "_id" : { "$numberInt" : "1" } })";
const std::string k_id2 = R"({ "_id" : { "$numberInt" : "2" } })";
const std::string k_id3 = R"({ "_id" : { "$numberInt" : "3" } })";
const std::string k_other = R"({ "_id" : { "$numberInt" : "99" } })";

repo::Manifest backup() {
    repo::Manifest m;
    m.id = "B1";
    repo::MongoCollection orders{.database = "shop", .name = "orders", .documents = 3};
    orders.samples = {{.id_json = k_id1, .sha256 = "h1"},
                      {.id_json = k_id2, .sha256 = "h2"},
                      {.id_json = k_id3, .sha256 = "h3"}};
    repo::MongoCollection customers{.database = "shop", .name = "customers", .documents = 5};
    repo::MongoCollection events{.database = "audit", .name = "events", .documents = 7};
    repo::MongoCollection view{.database = "shop", .name = "recent", .type = "view"};
    m.mongodb.collections = {orders, customers, events, view};
    return m;
}

ChangeSummary change(std::string op, std::string ns, std::string id = {}, std::string hash = {}) {
    return {.operation = std::move(op),
            .ns = std::move(ns),
            .id_json = std::move(id),
            .full_hash = std::move(hash)};
}

TEST(MongoRestoreRecord, NoEventsLeavesEveryCollectionUntouched) {
    const auto record = RestoreRecordBuilder(backup()).finish(std::nullopt);
    EXPECT_EQ(record.backup_id, "B1");
    EXPECT_EQ(record.events, 0u);
    EXPECT_TRUE(record.collections.empty());
    EXPECT_TRUE(record.gone.empty());
    EXPECT_EQ(record.fate_of("shop.orders"), nullptr);
}

TEST(MongoRestoreRecord, LastOperationPerSampleDecides) {
    RestoreRecordBuilder b(backup());
    b.observe(change("update", "shop.orders", k_id1));
    b.observe(change("replace", "shop.orders", k_id1, "new1"));  // replace after update: a hash
    b.observe(change("replace", "shop.orders", k_id2, "new2"));
    b.observe(change("update", "shop.orders", k_id2));  // update after replace: unknown
    b.observe(change("delete", "shop.orders", k_id3));
    b.observe(change("insert", "shop.orders", k_other, "x"));  // not a sample
    const auto record = b.finish(Timestamp{1000});
    EXPECT_EQ(record.events, 6u);
    const CollectionFate* fate = record.fate_of("shop.orders");
    ASSERT_NE(fate, nullptr);
    EXPECT_EQ(fate->name, "shop.orders");
    EXPECT_EQ(fate->events, 6u);
    ASSERT_EQ(fate->samples.size(), 3u);
    EXPECT_EQ(fate->samples.at(k_id1), (SampleFate{SampleState::hash, "new1"}));
    EXPECT_EQ(fate->samples.at(k_id2).state, SampleState::unknown);
    EXPECT_EQ(fate->samples.at(k_id3).state, SampleState::absent);
    EXPECT_EQ(record.fate_of("shop.customers"), nullptr);
}

TEST(MongoRestoreRecord, RenamesMoveDocumentsAndSamples) {
    RestoreRecordBuilder b(backup());
    b.observe(change("delete", "shop.orders", k_id1));
    auto rename = change("rename", "shop.orders");
    rename.to = "shop.orders_old";
    b.observe(rename);
    b.observe(change("insert", "shop.orders", k_id2, "fresh"));  // a new collection: no samples
    const auto record = b.finish(std::nullopt);
    const CollectionFate* moved = record.fate_of("shop.orders");
    ASSERT_NE(moved, nullptr);
    EXPECT_EQ(moved->name, "shop.orders_old");
    EXPECT_EQ(moved->events, 2u);
    EXPECT_EQ(moved->samples.at(k_id1).state, SampleState::absent);
    EXPECT_FALSE(record.is_gone("shop.orders"));
    // The name written again holds no backup documents.
    bool fresh = false;
    for (const auto& c : record.collections)
        if (c.name == "shop.orders") fresh = c.origin.empty() && c.samples.empty() && c.events == 1;
    EXPECT_TRUE(fresh);
}

TEST(MongoRestoreRecord, DropsAndDropDatabaseRemoveCollections) {
    RestoreRecordBuilder b(backup());
    b.observe(change("drop", "shop.customers"));
    b.observe(change("dropDatabase", "audit"));
    b.observe(change("rename", "shop.absent"));  // a source no longer there: nothing moves
    const auto record = b.finish(std::nullopt);
    EXPECT_EQ(record.events, 3u);
    EXPECT_TRUE(record.is_gone("shop.customers"));
    EXPECT_TRUE(record.is_gone("audit.events"));
    EXPECT_FALSE(record.is_gone("shop.orders"));
    EXPECT_TRUE(record.collections.empty());
}

TEST(MongoRestoreRecord, JsonRoundTrip) {
    RestoreRecordBuilder b(backup());
    b.observe(change("replace", "shop.orders", k_id1, "new1"));
    b.observe(change("delete", "shop.orders", k_id2));
    b.observe(change("drop", "audit.events"));
    const auto record = b.finish(Timestamp{1'700'000'000'000'000});
    const auto back = parse_restore_record(restore_record_json(record), "test");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->backup_id, "B1");
    EXPECT_EQ(back->target, record.target);
    EXPECT_EQ(back->events, 3u);
    EXPECT_EQ(back->gone, record.gone);
    ASSERT_EQ(back->collections.size(), 1u);
    EXPECT_EQ(back->collections[0].samples, record.collections[0].samples);
    EXPECT_EQ(parse_restore_record("{}", "test").error().code, ErrorCode::corrupt);
    EXPECT_EQ(
        parse_restore_record(R"({"format":"lifeboat-mongodb-restore-record","version":9})", "test")
            .error()
            .code,
        ErrorCode::unsupported);
}

TEST(MongoRestoreRecord, SummarizesChangeEvents) {
    const auto event =
        mongodb::Bson::from_json(R"({"operationType":"insert","ns":{"db":"shop","coll":"orders"},)"
                                 R"("documentKey":{"_id":1},"fullDocument":{"_id":1,"v":2}})");
    ASSERT_TRUE(event);
    const auto summary = summarize_change(*event);
    ASSERT_TRUE(summary);
    EXPECT_EQ(summary->operation, "insert");
    EXPECT_EQ(summary->ns, "shop.orders");
    EXPECT_EQ(summary->id_json, k_id1);
    EXPECT_EQ(summary->full_hash.size(), 64u);
    const auto drop =
        mongodb::Bson::from_json(R"({"operationType":"dropDatabase","ns":{"db":"a"}})");
    ASSERT_TRUE(drop);
    EXPECT_EQ(summarize_change(*drop)->ns, "a");
    EXPECT_FALSE(summarize_change(mongodb::Bson()));
}

}  // namespace
}  // namespace lifeboat::mongodb_driver
