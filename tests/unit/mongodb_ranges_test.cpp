// The _id range planning of the mongodb base backup (drivers/mongodb/id_ranges.hpp), against a
// fake collection that answers split-point queries with MongoDB's semantics (sort across types
// in BSON order, a comparison operator matching its own type bracket only): every document must
// fall in exactly one range, whatever its _id's type.
#include <gtest/gtest.h>

#include <variant>

#include "drivers/mongodb/id_ranges.hpp"
#include "repository/manifest.hpp"
#include "repository/manifest_mongodb.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"

namespace lifeboat {
namespace {

using mongodb::Bson;
using namespace mongodb_driver;

TEST(MongoRanges, RangeCountFollowsBytesAndDocuments) {
    const RangeThresholds mib{.split_bytes = 1 << 20};
    EXPECT_EQ(range_count(1000, 100, mib), 1u);
    EXPECT_EQ(range_count(1000, 1 << 20, mib), 1u);
    EXPECT_EQ(range_count(1000, (1 << 20) + 1, mib), 2u);
    EXPECT_EQ(range_count(1000, 10 << 20, mib), 10u);
    // Unknown bytes (0): the document count alone.
    EXPECT_EQ(range_count(2'500'000, 0, mib), 3u);
    // Never more ranges than documents or than the limit; 0 bytes never splits.
    EXPECT_EQ(range_count(3, 100 << 20, mib), 3u);
    EXPECT_EQ(range_count(1, 100 << 20, mib), 1u);
    EXPECT_EQ(range_count(1'000'000, 1ULL << 40, mib), k_max_id_ranges);
    EXPECT_EQ(range_count(5'000'000, 1ULL << 40, RangeThresholds{.split_bytes = 0}), 1u);
}

Bson doc(std::string_view json) {
    auto parsed = Bson::from_json(json);
    EXPECT_TRUE(parsed) << json;
    return parsed ? std::move(*parsed) : Bson();
}

TEST(MongoRanges, BracketsOfSplitPoints) {
    EXPECT_EQ(id_bracket(*doc(R"({"_id": 5})").get()), IdBracket::number);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$numberLong": "5"}})").get()), IdBracket::number);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$numberDecimal": "1.5"}})").get()), IdBracket::number);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$numberDouble": "NaN"}})").get()), IdBracket::unusable);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$numberDecimal": "NaN"}})").get()), IdBracket::unusable);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": "k"})").get()), IdBracket::string);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$oid": "6b0cf4458417ba454fdd1119"}})").get()),
              IdBracket::object_id);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"$date": {"$numberLong": "1"}}})").get()),
              IdBracket::date);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": null})").get()), IdBracket::unusable);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": true})").get()), IdBracket::unusable);
    EXPECT_EQ(id_bracket(*doc(R"({"_id": {"a": 1}})").get()), IdBracket::unusable);
    EXPECT_EQ(id_bracket(*doc(R"({"x": 1})").get()), IdBracket::unusable);
}

TEST(MongoRanges, FiltersOfPoints) {
    const auto none = range_filters({});
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].canonical_json(), "{ }");
    std::vector<Bson> points;
    points.push_back(doc(R"({"_id": 10})"));
    points.push_back(doc(R"({"_id": 20})"));
    const auto filters = range_filters(points);
    ASSERT_EQ(filters.size(), 3u);
    EXPECT_EQ(filters[0].relaxed_json(), R"({ "_id" : { "$not" : { "$gte" : 10 } } })");
    EXPECT_EQ(filters[1].relaxed_json(),
              R"({ "_id" : { "$gte" : 10, "$not" : { "$gte" : 20 } } })");
    EXPECT_EQ(filters[2].relaxed_json(), R"({ "_id" : { "$gte" : 20 } })");
}

// An _id of the fake collection: null, a boolean, an integer or a string (BSON order: null <
// numbers < strings < booleans).
using Id = std::variant<std::monostate, std::int64_t, std::string, bool>;

int rank(const Id& id) {
    switch (id.index()) {
        case 0:
            return 0;
        case 1:
            return 1;
        case 2:
            return 2;
        default:
            return 3;
    }
}

bool sorts_before(const Id& a, const Id& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return a < b;
}

Bson id_doc(const Id& id) {
    Bson out;
    if (std::holds_alternative<std::monostate>(id)) BSON_APPEND_NULL(out.get(), "_id");
    if (const auto* n = std::get_if<std::int64_t>(&id)) BSON_APPEND_INT64(out.get(), "_id", *n);
    if (const auto* s = std::get_if<std::string>(&id))
        BSON_APPEND_UTF8(out.get(), "_id", s->c_str());
    if (const auto* b = std::get_if<bool>(&id)) BSON_APPEND_BOOL(out.get(), "_id", *b);
    return out;
}

Id value_of(const bson_iter_t& it) {
    switch (bson_iter_type(&it)) {
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
            return bson_iter_as_int64(&it);
        case BSON_TYPE_UTF8:
            return std::string(bson_iter_utf8(&it, nullptr));
        case BSON_TYPE_BOOL:
            return bson_iter_bool(&it);
        default:
            return std::monostate{};
    }
}

// MongoDB's {$gte: p}: same type bracket and not below.
bool gte(const Id& value, const Id& point) {
    return rank(value) == rank(point) && !sorts_before(value, point);
}

// Evaluates a filter range_filters makes ({} or {_id: {$gte: p, $not: {$gte: q}}}).
bool matches(const Bson& filter, const Id& value) {
    bson_iter_t it, ops;
    if (!bson_iter_init_find(&it, filter.get(), "_id")) return true;
    EXPECT_TRUE(bson_iter_recurse(&it, &ops));
    bool result = true;
    while (bson_iter_next(&ops)) {
        const std::string_view op = bson_iter_key(&ops);
        if (op == "$gte") {
            result = result && gte(value, value_of(ops));
        } else if (op == "$not") {
            bson_iter_t inner;
            EXPECT_TRUE(bson_iter_recurse(&ops, &inner) && bson_iter_find(&inner, "$gte"));
            result = result && !gte(value, value_of(inner));
        } else {
            ADD_FAILURE() << "unexpected operator " << op;
        }
    }
    return result;
}

// The split-point query the backup sends, answered over `ids` (sorted in BSON order).
NextPointFn fake_collection(const std::vector<Id>& ids, int& queries) {
    return [&ids, &queries](const Bson* after, std::uint64_t skip) -> Result<std::optional<Bson>> {
        ++queries;
        std::vector<Id> candidates;
        for (const auto& id : ids) {
            bson_iter_t it;
            if (after && bson_iter_init_find(&it, after->get(), "_id") && !gte(id, value_of(it)))
                continue;
            candidates.push_back(id);
        }
        if (skip >= candidates.size()) return std::nullopt;
        return std::optional<Bson>(id_doc(candidates[skip]));
    };
}

void expect_partition(const IdRangePlan& plan, const std::vector<Id>& ids) {
    for (const auto& id : ids) {
        int in = 0;
        for (const auto& f : plan.filters)
            in += matches(f, id) ? 1 : 0;
        EXPECT_EQ(in, 1) << "an _id of type " << id.index() << " is in " << in << " ranges";
    }
}

TEST(MongoRanges, NumbersAreCutEvenlyAndCovered) {
    std::vector<Id> ids;
    for (std::int64_t i = 0; i < 100; ++i)
        ids.emplace_back(i);
    int queries = 0;
    auto plan = plan_id_ranges(4, ids.size(), fake_collection(ids, queries));
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_EQ(plan->filters.size(), 4u);
    EXPECT_EQ(plan->stride, 25u);
    EXPECT_EQ(queries, 3);
    for (std::size_t r = 0; r < 4; ++r) {
        std::size_t in = 0;
        for (const auto& id : ids)
            in += matches(plan->filters[r], id) ? 1 : 0;
        EXPECT_EQ(in, 25u) << "range " << r;
    }
    EXPECT_TRUE(matches(plan->filters[1], Id(std::int64_t{25})));
    EXPECT_FALSE(matches(plan->filters[1], Id(std::int64_t{50})));
    expect_partition(*plan, ids);
}

TEST(MongoRanges, OtherTypesFallInTheFirstRange) {
    // null, numbers, strings, booleans: the points are numbers (the first found), the strings
    // and the others are matched by range 0 only, including ones inserted after planning.
    std::vector<Id> ids{std::monostate{}};
    for (std::int64_t i = 0; i < 30; ++i)
        ids.emplace_back(i);
    for (char c = 'a'; c <= 'z'; ++c)
        ids.emplace_back(std::string(1, c));
    ids.emplace_back(false);
    ids.emplace_back(true);
    int queries = 0;
    auto plan = plan_id_ranges(6, ids.size(), fake_collection(ids, queries));
    ASSERT_TRUE(plan);
    // Points every 10 documents from position 10: 9, 19, 29, then none among the numbers at or
    // after 29 (the strings are no answer to a numeric $gte).
    ASSERT_EQ(plan->filters.size(), 4u);
    expect_partition(*plan, ids);
    std::vector<Id> later{std::string("zz"), std::int64_t{-5}, std::int64_t{1000}, true,
                          std::monostate{}};
    expect_partition(*plan, later);
    EXPECT_TRUE(matches(plan->filters[0], Id(std::string("m"))));
    EXPECT_TRUE(matches(plan->filters[3], Id(std::int64_t{1000})));
}

TEST(MongoRanges, AnUnusableFirstPointMeansOneRange) {
    std::vector<Id> ids{std::monostate{}, std::monostate{}, true, true};
    int queries = 0;
    auto plan = plan_id_ranges(2, ids.size(), fake_collection(ids, queries));
    ASSERT_TRUE(plan);
    ASSERT_EQ(plan->filters.size(), 1u);
    EXPECT_EQ(plan->filters[0].canonical_json(), "{ }");
    EXPECT_EQ(plan->stride, ids.size());
    expect_partition(*plan, ids);
}

TEST(MongoRanges, OneRangeAsksNothingAndAnErrorStopsThePlan) {
    int queries = 0;
    std::vector<Id> ids{std::int64_t{1}, std::int64_t{2}};
    auto one = plan_id_ranges(1, 2, fake_collection(ids, queries));
    ASSERT_TRUE(one);
    EXPECT_EQ(one->filters.size(), 1u);
    EXPECT_EQ(queries, 0);
    auto failing =
        plan_id_ranges(3, 100, [](const Bson*, std::uint64_t) -> Result<std::optional<Bson>> {
            return fail(ErrorCode::database, "find in db.c: gone");
        });
    ASSERT_FALSE(failing);
    EXPECT_EQ(failing.error().code, ErrorCode::database);
}

// A split collection's manifest says so in `ranges`; an unsplit one writes nothing new, so its
// manifest is what readers before ranges wrote and read.
TEST(MongoRanges, TheManifestRecordsRangesAboveOne) {
    repo::Manifest m;
    m.id = "20261130T050000Z";
    m.source = {std::string(repo::k_kind_mongodb), "1234567890123", 70000};
    repo::ManifestEntry e;
    e.path = "shop/orders.bson";
    e.size = 3;
    e.blocks.push_back(repo::BlockId{});
    m.entries = {e};
    repo::MongoCollection orders{.database = "shop",
                                 .name = "orders",
                                 .options_json = "{ }",
                                 .indexes_json = R"({ "indexes" : [ ] })",
                                 .path = "shop/orders.bson",
                                 .documents = 3};
    m.mongodb.collections = {orders};
    EXPECT_FALSE(repo::mongo_payload_to_json(m.mongodb)["collections"][0].contains("ranges"));
    m.mongodb.collections[0].ranges = 4;
    EXPECT_EQ(repo::mongo_payload_to_json(m.mongodb)["collections"][0]["ranges"], 4);
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-mongo-ranges-").value();
    PosixStorage storage(dir.path());
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto back = repo::read_manifest(storage, m.id);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->mongodb.collections[0].ranges, 4u);
    m.id = "20261130T050001Z";
    m.mongodb.collections[0].ranges = 1;
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto unsplit = repo::read_manifest(storage, m.id);
    ASSERT_TRUE(unsplit);
    EXPECT_EQ(unsplit->mongodb.collections[0].ranges, 1u);
}

}  // namespace
}  // namespace lifeboat
