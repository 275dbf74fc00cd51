// Streamed parsing of the large arrays of index objects and manifests (issue 16: memory at
// SCALE=1000), the index written as text, and the index loaded for a restore (one backup's
// blocks) or a backup (ids only).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../fuzz/memory_storage.hpp"
#include "repository/index.hpp"
#include "repository/index_text.hpp"
#include "repository/json_reader.hpp"
#include "repository/object.hpp"

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

TEST(JsonEndOfArray, SkipsNestedArraysObjectsAndStringsHoldingBracketsQuotesAndEscapes) {
    const std::string text = R"({"entries":[[1,[2]],{"p":"a]}\"[{"},"\\","x\\\"]"],"id":"z"})";
    const auto end = end_of_array(text, 11);
    ASSERT_TRUE(end);
    EXPECT_EQ(text.substr(*end), R"(,"id":"z"})");
    EXPECT_EQ(end_of_array("[]", 0), std::optional<std::size_t>(2));
}

TEST(JsonEndOfArray, NoArrayThereOrNeverClosedIsNullopt) {
    EXPECT_FALSE(end_of_array(R"({"entries":[1,2)", 11));  // unclosed
    EXPECT_FALSE(end_of_array(R"([{"a":1])", 0));          // unclosed (the ']' closes '{')
    EXPECT_FALSE(end_of_array(R"(["a\"])", 0));            // the quote is escaped: unclosed
    EXPECT_FALSE(end_of_array(R"([1})", 0));               // closed by the wrong bracket
    EXPECT_FALSE(end_of_array(R"({"entries":[1]})", 0));   // not at a '['
    EXPECT_FALSE(end_of_array("[1]", 3));                  // past the end
}

// The index text write_index stored (its envelope removed).
std::string written_index_text(const std::vector<PackSummary>& packs) {
    fuzz::MemoryStorage storage;
    const std::string id = *write_index(storage, packs);
    const std::string bytes = *storage.read("index/" + id);
    return *decode_object(bytes, ObjectKind::index, "index/" + id);
}

TEST(IndexText, TheWrittenLayoutIsReadWithoutTheJsonParserAndAgreesWithIt) {
    const std::vector<PackSummary> packs = {pack_of('a', 3), pack_of('b', 0), pack_of('c', 1)};
    const std::string text = written_index_text(packs);
    const auto fast = parse_index_as_written(text);
    ASSERT_TRUE(fast) << text.substr(0, 200);
    EXPECT_EQ(*fast, packs);
    const auto general = parse_index_json(text, "index/x");
    ASSERT_TRUE(general) << general.error().message;
    EXPECT_EQ(*general, packs);
    EXPECT_EQ(parse_index_as_written(R"({"packs":[]})"), std::vector<PackSummary>{});
}

TEST(IndexText, AnyOtherLayoutOrAFailedCheckIsLeftToTheJsonParser) {
    const std::string text = written_index_text({pack_of('a', 2)});
    const std::string block = pack_of('a', 2).entries[0].id.hex();
    const auto with = [&](std::string_view from, std::string_view to) {
        std::string out = text;
        const auto at = out.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        if (at != std::string::npos) out.replace(at, from.size(), to);
        return out;
    };
    std::string upper = block;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // Valid JSON the general reader takes as the same index, in another layout.
    for (const std::string& other : {with("{\"packs\":[", "{ \"packs\": ["), with(block, upper),
                                     with(",\"size\":", ",\"extra\":1,\"size\":")}) {
        EXPECT_FALSE(parse_index_as_written(other)) << other.substr(0, 120);
        const auto general = parse_index(other, "index/x");
        ASSERT_TRUE(general) << general.error().message;
        EXPECT_EQ(*general, std::vector<PackSummary>{pack_of('a', 2)});
    }
    // Numbers and checks the index refuses: the general reader words the error.
    for (const std::string& bad :
         {with(",64,100,8192,1]", ",064,100,8192,1]"), with(",64,100,8192,1]", ",64,100,8192,256]"),
          with(",64,100,8192,1]", ",64,4294967296,8192,1]"),
          with(",64,100,8192,1]", ",8,100,8192,1]"), with(",\"size\":1048576", ",\"size\":40"),
          with(",64,100,8192,1]", ",18446744073709551616,100,8192,1]"),
          with(std::string(64, 'a'), std::string(63, 'a') + "g")}) {
        EXPECT_FALSE(parse_index_as_written(bad)) << bad.substr(0, 160);
        const auto general = parse_index(bad, "index/x");
        ASSERT_FALSE(general) << bad.substr(0, 160);
        EXPECT_EQ(general.error().code, ErrorCode::corrupt);
        EXPECT_NE(general.error().message.find("index/x"), std::string::npos);
    }
    EXPECT_FALSE(parse_index_as_written(text + " "));
    EXPECT_FALSE(parse_index_as_written(text.substr(0, text.size() - 1)));
}

}  // namespace
