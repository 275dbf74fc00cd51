// Streamed parsing of the large arrays of index objects and manifests (issue 16: memory at
// SCALE=1000), the index written as text, and the index loaded for a restore (one backup's
// blocks) or a backup (ids only).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../fuzz/memory_storage.hpp"
#include "repository/index.hpp"
#include "repository/json_reader.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

namespace {

TEST(JsonStreaming, ElementsAreVisitedInOrderAndDroppedFromTheDocument) {
    const std::string text =
        R"({"a":1,"packs":[{"n":0},{"n":1},{"n":2}],"z":{"packs":[{"n":9}]},"b":"x"})";
    std::vector<int> seen;
    std::vector<std::string> paths;
    auto doc = JsonDocument::parse_streaming(text, "obj", "thing", "packs",
                                             [&](const JsonValue& v) -> Status {
                                                 seen.push_back(LB_TRY(v.required<int>("n")));
                                                 paths.push_back(v.problem("x").message);
                                                 return {};
                                             });
    ASSERT_TRUE(doc) << doc.error().message;
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));  // not the nested "packs"
    EXPECT_NE(paths[2].find("packs[2]"), std::string::npos) << paths[2];
    // What is kept: everything but the streamed elements.
    EXPECT_EQ(*doc->root().required<int>("a"), 1);
    EXPECT_EQ(*doc->root().required<std::string>("b"), "x");
    std::size_t left = 0;
    ASSERT_TRUE(doc->root().for_each_in("packs", [&](const JsonValue&) -> Status {
        ++left;
        return {};
    }));
    EXPECT_EQ(left, 0u);
}

TEST(JsonStreaming, TheFirstFailureOfTheVisitorIsTheResult) {
    const std::string text = R"({"packs":[{"n":0},{"m":1},{"n":2}]})";
    int visits = 0;
    auto doc = JsonDocument::parse_streaming(text, "obj", "thing", "packs",
                                             [&](const JsonValue& v) -> Status {
                                                 ++visits;
                                                 LB_CHECK(v.required<int>("n"));
                                                 return {};
                                             });
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code, ErrorCode::corrupt);
    EXPECT_NE(doc.error().message.find("packs[1].n"), std::string::npos) << doc.error().message;
    EXPECT_EQ(visits, 2);  // nothing after the failure
}

TEST(JsonStreaming, MalformedTextIsCorruptNamingTheObject) {
    auto doc = JsonDocument::parse_streaming(R"({"packs":[{"n":0},)", "index/abc", "index", "packs",
                                             [](const JsonValue&) -> Status { return {}; });
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code, ErrorCode::corrupt);
    EXPECT_NE(doc.error().message.find("index/abc: malformed index"), std::string::npos);
}

TEST(JsonStreaming, IndexWithoutItsArrayOrWithAnObjectForItIsRefused) {
    for (const char* text : {R"({"other":[]})", R"({"packs":{"id":"x"}})", R"([1,2])"}) {
        auto packs = parse_index(text, "index/x");
        ASSERT_FALSE(packs) << text;
        EXPECT_EQ(packs.error().code, ErrorCode::corrupt) << text;
    }
}

PackSummary pack_of(char fill, std::uint32_t blocks) {
    PackSummary pack;
    pack.id = std::string(64, fill);
    pack.size = 1 << 20;
    for (std::uint32_t i = 0; i < blocks; ++i) {
        PackEntry e;
        e.id = BlockId::of(std::string(1, fill) + std::to_string(i));
        e.placement = {.offset = 64 + i * 100,
                       .stored_length = 100,
                       .raw_length = 8192,
                       .codec = BlockCodec::zstd};
        pack.entries.push_back(e);
    }
    return pack;
}

TEST(IndexText, WrittenAsTextParsesBackTheSame) {
    fuzz::MemoryStorage storage;
    const std::vector<PackSummary> packs = {pack_of('a', 3), pack_of('b', 1)};
    const std::string id = *write_index(storage, packs);
    auto index = load_block_index(storage);
    ASSERT_TRUE(index) << index.error().message;
    EXPECT_EQ(index->block_count(), 4u);
    const auto where = index->find(packs[0].entries[2].id);
    ASSERT_TRUE(where);
    EXPECT_EQ(*where->pack_id, packs[0].id);
    EXPECT_EQ(where->placement.offset, 264u);
    EXPECT_EQ(where->placement.raw_length, 8192u);
    EXPECT_EQ(index->loaded_from, std::vector<std::string>{id});
}

TEST(IndexText, ARestoreKeepsOnlyItsBlocksAndABackupOnlyIds) {
    fuzz::MemoryStorage storage;
    const std::vector<PackSummary> first = {pack_of('a', 5)};
    const std::vector<PackSummary> second = {pack_of('b', 5)};
    ASSERT_TRUE(write_index(storage, first));
    ASSERT_TRUE(write_index(storage, second));
    const BlockId wanted = second[0].entries[3].id;
    auto some = load_block_index(storage, OnDamagedIndex::fail, nullptr,
                                 [&](const BlockId& id) { return id == wanted; });
    ASSERT_TRUE(some);
    EXPECT_EQ(some->block_count(), 1u);
    EXPECT_TRUE(some->find(wanted));
    EXPECT_FALSE(some->find(first[0].entries[0].id));
    EXPECT_TRUE(some->has_pack(first[0].id));  // packs are all known

    auto ids = load_block_index(storage, OnDamagedIndex::fail, nullptr, {}, IndexContent::ids);
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->block_count(), 10u);
    for (const auto& pack : {first[0], second[0]}) {
        for (const auto& e : pack.entries) {
            EXPECT_TRUE(ids->contains(e.id));
            EXPECT_FALSE(ids->find(e.id));  // no locations kept
        }
    }
    EXPECT_FALSE(ids->contains(BlockId::of("not stored")));
    // A pack added afterwards (an adopted one) is found with its location.
    ids->add_pack(pack_of('c', 1));
    EXPECT_TRUE(ids->contains(pack_of('c', 1).entries[0].id));
    EXPECT_TRUE(ids->find(pack_of('c', 1).entries[0].id));
}

}  // namespace
