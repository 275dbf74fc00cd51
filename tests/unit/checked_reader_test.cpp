// The checked readers (repository/byte_reader.hpp, repository/json_reader.hpp) and every parser of
// repository bytes built on them (object_parsers.hpp): hostile inputs (truncated at every byte,
// bytes flipped, wrong JSON types, out-of-range integers, offset + length past 2^64, huge lengths,
// deep nesting) must come back as ErrorCode::corrupt errors naming the object and the field, on
// one line, and never crash, throw or narrow.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "object_parsers.hpp"
#include "repository/byte_reader.hpp"
#include "repository/json_reader.hpp"
#include "repository_test_support.hpp"
#include "util/endian.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;
using nlohmann::json;

namespace {

const ObjectParser& parser(std::string_view kind) {
    for (const auto& p : object_parsers())
        if (p.kind == kind) return p;
    ADD_FAILURE() << "no parser for " << kind;
    return object_parsers().front();
}

const std::string k_block_hex(64, '5');

// A pack payload as PackWriter lays it out: blobs, then the footer and its length.
std::string pack_payload(const std::vector<std::pair<std::uint64_t, std::uint32_t>>& entries,
                         std::size_t blob_bytes) {
    std::string out(blob_bytes, 'x');
    std::string footer;
    put_le<std::uint32_t>(footer, static_cast<std::uint32_t>(entries.size()));
    for (const auto& [offset, length] : entries) {
        footer.append(32, '\x55');
        put_le<std::uint64_t>(footer, offset);
        put_le<std::uint32_t>(footer, length);
        put_le<std::uint32_t>(footer, length);
        footer.push_back(0);
        footer.append(3, '\0');
    }
    put_le<std::uint32_t>(footer, static_cast<std::uint32_t>(footer.size()));
    return out + footer;
}

json index_json(std::uint64_t offset, json stored_length, std::uint64_t size = 1000) {
    return {{"packs",
             {{{"id", std::string(64, 'a')},
               {"size", size},
               {"blobs", {{k_block_hex, offset, stored_length, 3, 0}}}}}}};
}

json manifest_json() {
    return {{"id", "20261126T080000Z"},
            {"source",
             {{"kind", "postgres"},
              {"system_identifier", "7312"},
              {"server_version", 150018},
              {"wal_segment_size", 16777216},
              {"data_checksums", true},
              {"block_size", 8192}}},
            {"start_time", "2026-11-26T08:00:00Z"},
            {"stop_time", "2026-11-26T08:00:01Z"},
            {"start_lsn", "0/2000028"},
            {"stop_lsn", "0/2000138"},
            {"timeline", 1},
            {"start_wal", "000000010000000000000002"},
            {"stop_wal", "000000010000000000000002"},
            {"backup_label", "label"},
            {"tablespaces", {{{"oid", 16385}, {"location", "/srv/ts1"}}}},
            {"tags", {{"purpose", "test"}}},
            {"stats", {{"files", 2}, {"duration_seconds", 1.5}}},
            {"page_checksum_failures", {{{"path", "base/1/2"}, {"block", 7}}}},
            {"indexes", {std::string(64, 'b')}},
            {"entries",
             {{{"path", "base"}, {"type", "dir"}, {"mode", 0700}},
              {{"path", "base/1"},
               {"type", "file"},
               {"mode", 0600},
               {"size", 3},
               {"mtime", 1764144000},
               {"mtime_nsec", 5},
               {"blocks", {k_block_hex}}},
              {{"path", "pg_tblspc/16385"}, {"type", "link"}, {"target", "/srv/ts1"}}}}};
}

json wal_meta_json() {
    return {{"name", "000000010000000000000002"},
            {"raw_size", 16777216},
            {"raw_sha256", std::string(64, 'd')},
            {"codec", 1},
            {"first_commit", "2026-11-26T08:00:01Z"},
            {"last_commit", "2026-11-26T08:00:02Z"},
            {"commits", 3},
            {"pushed", "2026-11-26T08:00:04Z"}};
}

std::string wal_payload(const std::string& meta, std::string_view data) {
    std::string out;
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(meta.size()));
    return out + meta + std::string(data);
}

json config_json() {
    return {{"format", 1},
            {"repository_id", std::string(32, 'c')},
            {"created", "2026-11-26T07:59:00Z"},
            {"block_size", 262144},
            {"pack_target_size", 33554432},
            {"compression", {{"codec", "zstd"}, {"level", 3}}},
            {"encryption",
             {{"cipher", "aes-256-gcm"},
              {"kdf", "scrypt"},
              {"salt", "00"},
              {"scrypt_n", 32768},
              {"scrypt_r", 8},
              {"scrypt_p", 1},
              {"wrapped_key", "00"}}}};
}

json pin_json() {
    return {{"backup", "20261126T080000Z"},
            {"until", "2027-01-01T00:00:00Z"},
            {"created", "2026-11-26T09:00:00Z"}};
}

json lock_json() {
    return {{"kind", "shared"},
            {"purpose", "backup"},
            {"host", "db1"},
            {"pid", 4242},
            {"boot_id", "b"},
            {"pid_namespace", "pid:[1]"},
            {"started", "2026-11-26T08:00:00Z"},
            {"refreshed", "2026-11-26T08:05:00Z"},
            {"token", "t"}};
}

json drill_json_sample() {
    return {{"id", "20261126T080000Z-abcd"},
            {"started", "2026-11-26T08:00:00Z"},
            {"target", "latest"},
            {"backup", "20261126T070000Z"},
            {"passed", true},
            {"phases", {{"files_seconds", 1.0}, {"total_seconds", 2}}},
            {"newest_commit", nullptr},
            {"checks", {{{"kind", "rows"}, {"passed", true}}}},
            {"databases", {{{"name", "app"}, {"passed", true}}}}};
}

// The same backup as a format-2 manifest: source, log and the postgres-physical payload.
json manifest_v2_json() {
    const json v1 = manifest_json();
    return {{"format", 2},
            {"id", v1.at("id")},
            {"source",
             {{"kind", "postgres-physical"}, {"identity", "7312"}, {"server_version", 150018}}},
            {"start_time", v1.at("start_time")},
            {"stop_time", v1.at("stop_time")},
            {"log",
             {{"branch", 1},
              {"start", "0/2000028"},
              {"stop", "0/2000138"},
              {"first_object", "000000010000000000000002"},
              {"last_object", "000000010000000000000002"}}},
            {"tags", v1.at("tags")},
            {"stats", v1.at("stats")},
            {"indexes", v1.at("indexes")},
            {"entries", v1.at("entries")},
            {"postgres_physical",
             {{"wal_segment_size", 16777216},
              {"data_checksums", true},
              {"block_size", 8192},
              {"backup_label", "label"},
              {"tablespaces", v1.at("tablespaces")},
              {"page_checksum_failures", v1.at("page_checksum_failures")}}}};
}

// A postgres-logical backup: schema files and one table, named by the payload.
json manifest_logical_json() {
    json m = manifest_v2_json();
    m["source"]["kind"] = "postgres-logical";
    m.erase("postgres_physical");
    auto file = [](std::string path) {
        return json{{"path", std::move(path)},
                    {"type", "file"},
                    {"mode", 384},
                    {"size", 10},
                    {"mtime", 1764144000},
                    {"blocks", {std::string(64, 'c')}}};
    };
    m["entries"] = {{{"path", "schema"}, {"type", "dir"}, {"mode", 448}},
                    file("schema/pre-data.sql"),
                    file("schema/post-data.sql"),
                    file("schema/sequences.sql"),
                    {{"path", "data"}, {"type", "dir"}, {"mode", 448}},
                    file("data/public.t.copy")};
    m["postgres_logical"] = {
        {"database", "app"},
        {"slot", "lifeboat_0123456789abcdef"},
        {"snapshot", "00000003-00000002-1"},
        {"pre_data", "schema/pre-data.sql"},
        {"post_data", "schema/post-data.sql"},
        {"sequences", "schema/sequences.sql"},
        {"tables", {{{"schema", "public"}, {"name", "t"}, {"path", "data/public.t.copy"}}}}};
    return m;
}

// One valid input per parser kind.
std::map<std::string, std::string> valid_samples() {
    const std::string meta = wal_meta_json().dump();
    return {
        {"envelope", encode_object(ObjectKind::manifest, "{}", PayloadCompression::zstd).value()},
        {"pack payload", pack_payload({{24, 10}, {34, 20}}, 30)},
        {"index", index_json(24, 10).dump()},
        {"manifest", manifest_json().dump()},
        {"manifest v2", manifest_v2_json().dump()},
        {"manifest postgres-logical", manifest_logical_json().dump()},
        {"WAL payload", wal_payload(meta, "")},
        {"WAL metadata", meta},
        {"config", config_json().dump()},
        {"pin", pin_json().dump()},
        {"lock", lock_json().dump()},
        {"cluster identity", json{{"system_identifier", "7312345678901234567"}}.dump()},
        {"drill record", drill_json_sample().dump()},
    };
}

// A corrupt error that names the object's key, on one line.
::testing::AssertionResult corrupt_naming(const Status& status, const ObjectParser& p,
                                          std::string_view needle = {}) {
    auto result = fails_with(status, ErrorCode::corrupt, needle);
    if (!result) return result;
    const std::string& message = status.error().message;
    if (message.find(p.key) == std::string::npos)
        return ::testing::AssertionFailure()
               << "message does not name " << p.key << ": " << message;
    if (message.find('\n') != std::string::npos)
        return ::testing::AssertionFailure() << "message is not one line: " << message;
    return ::testing::AssertionSuccess();
}

}  // namespace

TEST(ByteReader, ReadsLittleEndianFieldsAndStopsAtTheEnd) {
    std::string bytes;
    put_le<std::uint32_t>(bytes, 0x01020304);
    put_le<std::uint64_t>(bytes, 0x1122334455667788ull);
    bytes += "ab";
    ByteReader r(bytes, "data/xx/key", "thing");
    EXPECT_EQ(r.read_u32_le("a").value(), 0x01020304u);
    EXPECT_EQ(r.read_u64_le("b").value(), 0x1122334455667788ull);
    EXPECT_FALSE(r.expect_end());
    EXPECT_EQ(r.read_bytes(2, "c").value(), "ab");
    EXPECT_TRUE(r.expect_end());
    EXPECT_TRUE(fails_with(r.read_u8("d"), ErrorCode::corrupt, "data/xx/key: malformed thing: d"));
}

TEST(ByteReader, EveryReadPastTheEndIsCorruptAndMovesNothing) {
    const std::string bytes(7, '\0');
    ByteReader r(bytes, "k", "thing");
    EXPECT_TRUE(fails_with(r.read_u64_le("offset"), ErrorCode::corrupt, "offset"));
    EXPECT_EQ(r.position(), 0u);
    EXPECT_TRUE(fails_with(r.read_bytes(UINT64_MAX, "blob"), ErrorCode::corrupt, "blob"));
    EXPECT_TRUE(fails_with(r.skip(std::uint64_t{1} << 40, "gap"), ErrorCode::corrupt, "gap"));
    EXPECT_TRUE(fails_with(r.seek(8, "footer"), ErrorCode::corrupt, "footer"));
    EXPECT_EQ(r.position(), 0u);
    EXPECT_TRUE(r.seek(7, "end"));
    EXPECT_TRUE(fails_with(r.read_u8("next"), ErrorCode::corrupt));
}

TEST(ByteReader, RangeWithinNeverWraps) {
    EXPECT_TRUE(range_within(24, 10, 34));
    EXPECT_FALSE(range_within(24, 11, 34));
    EXPECT_FALSE(range_within(UINT64_MAX, 16, 1000));  // offset + length wraps to 15
    EXPECT_FALSE(range_within(UINT64_MAX - 4, UINT32_MAX, UINT64_MAX));
    EXPECT_TRUE(range_within(0, 0, 0));
}

TEST(JsonReader, RefusesWrongTypesAndNarrowingNamingThePath) {
    const auto doc = JsonDocument::parse(
        R"({"u32": 4294967296, "neg": -1, "float": 3.5, "text": "7", "big": 18446744073709551615,
            "list": [{"x": 1}, {"x": "one"}], "ok": 4294967295})",
        "index/k", "thing");
    ASSERT_TRUE(doc) << doc.error().message;
    const JsonValue j = doc->root();
    EXPECT_TRUE(fails_with(j.required<std::uint32_t>("u32"), ErrorCode::corrupt,
                           "index/k: malformed thing: u32: expected an integer in 0..4294967295"));
    EXPECT_TRUE(fails_with(j.required<std::uint64_t>("neg"), ErrorCode::corrupt, "found -1"));
    EXPECT_TRUE(fails_with(j.required<std::uint64_t>("float"), ErrorCode::corrupt, "found 3.5"));
    EXPECT_TRUE(fails_with(j.required<std::uint64_t>("text"), ErrorCode::corrupt, "a string"));
    EXPECT_TRUE(fails_with(j.required<std::int64_t>("big"), ErrorCode::corrupt, "big"));
    EXPECT_TRUE(fails_with(j.required<int>("ok"), ErrorCode::corrupt, "ok"));
    EXPECT_TRUE(fails_with(j.required<std::string>("missing"), ErrorCode::corrupt,
                           "missing: required field missing"));
    EXPECT_EQ(j.required<std::uint32_t>("ok").value(), 4294967295u);
    EXPECT_EQ(j.required<std::uint64_t>("big").value(), UINT64_MAX);
    EXPECT_EQ(j.optional<std::uint32_t>("absent", 7).value(), 7u);
    EXPECT_TRUE(fails_with(j.optional<std::uint32_t>("neg", 7), ErrorCode::corrupt, "neg"));
    int visited = 0;
    const Status walk = j.for_each_in("list", [&](const JsonValue& item) -> Status {
        LB_TRY(item.required<std::uint32_t>("x"));
        ++visited;
        return {};
    });
    EXPECT_EQ(visited, 1);
    EXPECT_TRUE(fails_with(walk, ErrorCode::corrupt, "list[1].x: expected an integer"));
}

TEST(JsonReader, MalformedAndDeeplyNestedDocumentsAreCorrupt) {
    EXPECT_TRUE(fails_with(JsonDocument::parse("{\"a\": ", "k", "thing"), ErrorCode::corrupt,
                           "k: malformed thing"));
    EXPECT_TRUE(fails_with(JsonDocument::parse("", "k", "thing"), ErrorCode::corrupt));
    // Neither parsing nor destroying a document this deep may exhaust the stack.
    const std::string deep = std::string(200'000, '[') + std::string(200'000, ']');
    auto doc = JsonDocument::parse(deep, "k", "thing");
    ASSERT_TRUE(doc);
    EXPECT_TRUE(fails_with(doc->root().required<std::string>("id"), ErrorCode::corrupt,
                           "expected an object, found an array"));
    EXPECT_TRUE(fails_with(parser("manifest").parse(deep), ErrorCode::corrupt));
    EXPECT_TRUE(
        fails_with(parser("manifest").parse(std::string(200'000, '[')), ErrorCode::corrupt));
}

TEST(CheckedParsers, ValidSamplesParse) {
    const auto samples = valid_samples();
    for (const auto& p : object_parsers()) {
        ASSERT_TRUE(samples.contains(p.kind)) << p.kind;
        const Status status = p.parse(samples.at(p.kind));
        EXPECT_TRUE(status) << p.kind << ": " << status.error().message;
    }
}

TEST(CheckedParsers, EveryTruncationIsCorruptNamingTheObject) {
    const auto samples = valid_samples();
    for (const auto& p : object_parsers()) {
        const std::string& sample = samples.at(p.kind);
        for (std::size_t n = 0; n < sample.size(); ++n) {
            EXPECT_TRUE(corrupt_naming(p.parse(std::string_view(sample).substr(0, n)), p))
                << p.kind << " cut to " << n << " of " << sample.size() << " bytes";
        }
    }
}

TEST(CheckedParsers, EveryFlippedByteIsParsedOrCorruptNeverACrash) {
    const auto samples = valid_samples();
    for (const auto& p : object_parsers()) {
        const std::string& sample = samples.at(p.kind);
        for (std::size_t at = 0; at < sample.size(); ++at) {
            for (const unsigned char mask : {0x01, 0x80, 0xff}) {
                const Status status = p.parse(flip_byte(sample, at, mask));
                if (!status) {
                    EXPECT_TRUE(corrupt_naming(status, p))
                        << p.kind << " byte " << at << " ^ " << int(mask);
                }
            }
        }
    }
}

TEST(CheckedParsers, PackFooterLengthsAndOffsetsAreChecked) {
    const ObjectParser& p = parser("pack payload");
    std::string huge_footer = pack_payload({{24, 10}}, 10);
    put_u32le(huge_footer, huge_footer.size() - 4, 0xffffffffu);
    EXPECT_TRUE(corrupt_naming(p.parse(huge_footer), p, "footer_length"));
    std::string huge_count = pack_payload({{24, 10}}, 10);
    put_u32le(huge_count, 10, 0xffffffffu);  // entry_count, right after the blobs
    EXPECT_TRUE(corrupt_naming(p.parse(huge_count), p, "entry_count"));
    // offset + length wraps past 2^64: refused, not read as a small offset.
    EXPECT_TRUE(corrupt_naming(p.parse(pack_payload({{UINT64_MAX - 3, 16}}, 10)), p, "offset"));
    EXPECT_TRUE(corrupt_naming(p.parse(pack_payload({{0, 10}}, 10)), p, "offset"));   // the header
    EXPECT_TRUE(corrupt_naming(p.parse(pack_payload({{30, 10}}, 10)), p, "offset"));  // the footer
    EXPECT_TRUE(p.parse(pack_payload({{24, 10}, {34, 0}}, 10)));
}

TEST(CheckedParsers, IndexOffsetsLengthsAndIdsAreChecked) {
    const ObjectParser& p = parser("index");
    struct Case {
        std::string why;
        json doc;
        std::string needle;
    };
    std::vector<Case> cases = {
        {"offset + length wraps", index_json(UINT64_MAX, 16), "packs[0].blobs[0][1] (offset)"},
        {"block past the pack", index_json(990, 10, 1000), "outside the 1000-byte pack"},
        {"block in the header", index_json(0, 10), "offset"},
        {"stored_length over 32 bits", index_json(24, 4294967296ull), "(stored_length)"},
        {"negative length", index_json(24, -1), "found -1"},
        {"length as text", index_json(24, "10"), "a string"},
        {"fractional length", index_json(24, 10.5), "found 10.5"},
        {"pack smaller than empty", index_json(24, 10, 10), "size"},
    };
    json bad_id = index_json(24, 10);
    bad_id["packs"][0]["id"] = "../../../etc/passwd";
    cases.push_back({"pack id that is a path", bad_id, "packs[0].id"});
    json bad_codec = index_json(24, 10);
    bad_codec["packs"][0]["blobs"][0][4] = 256;
    cases.push_back({"codec over 8 bits", bad_codec, "(codec)"});
    json short_blob = index_json(24, 10);
    short_blob["packs"][0]["blobs"][0].erase(4);
    cases.push_back({"blob without codec", short_blob, "[4] (codec): missing"});
    json bad_block = index_json(24, 10);
    bad_block["packs"][0]["blobs"][0][0] = "xyz";
    cases.push_back({"malformed block id", bad_block, "malformed block id"});
    json packs_object = index_json(24, 10);
    packs_object["packs"] = json::object();
    cases.push_back({"packs not an array", packs_object, "packs: expected an array"});
    for (const auto& c : cases)
        EXPECT_TRUE(corrupt_naming(p.parse(c.doc.dump()), p, c.needle)) << c.why;
}

TEST(CheckedParsers, ManifestRangesAreChecked) {
    const ObjectParser& p = parser("manifest");
    struct Case {
        std::string why;
        json::json_pointer field;
        json value;
        std::string needle;
    };
    const std::vector<Case> cases = {
        {"timeline 0", json::json_pointer("/timeline"), 0, "timeline"},
        {"timeline over 32 bits", json::json_pointer("/timeline"), 4294967297ull, "timeline"},
        {"negative timeline", json::json_pointer("/timeline"), -1, "timeline"},
        {"segment size 0", json::json_pointer("/source/wal_segment_size"), 0,
         "source.wal_segment_size"},
        {"segment size not a power of two", json::json_pointer("/source/wal_segment_size"), 3 << 20,
         "source.wal_segment_size"},
        {"server_version over int", json::json_pointer("/source/server_version"), 1ull << 40,
         "source.server_version"},
        {"mode with file-type bits", json::json_pointer("/entries/1/mode"), 0100600,
         "entries[1].mode"},
        {"mtime_nsec a second", json::json_pointer("/entries/1/mtime_nsec"), 1'000'000'000,
         "entries[1].mtime_nsec"},
        {"negative size", json::json_pointer("/entries/1/size"), -1, "entries[1].size"},
        {"size as text", json::json_pointer("/entries/1/size"), "3", "entries[1].size"},
        {"block id not hex", json::json_pointer("/entries/1/blocks/0"), "zz",
         "entries[1].blocks[0]"},
        {"tag value a number", json::json_pointer("/tags/purpose"), 5, "tags.purpose"},
        {"time out of range", json::json_pointer("/start_time"), "10000-01-01T00:00:00Z",
         "start_time"},
        {"oid negative", json::json_pointer("/tablespaces/0/oid"), -5, "tablespaces[0].oid"},
        {"entries an object", json::json_pointer("/entries"), json::object(), "entries"},
        {"stats a string", json::json_pointer("/stats"), "x", "stats"},
        {"block number negative", json::json_pointer("/page_checksum_failures/0/block"), -7,
         "page_checksum_failures[0].block"},
    };
    for (const auto& c : cases) {
        json doc = manifest_json();
        doc[c.field] = c.value;
        EXPECT_TRUE(corrupt_naming(p.parse(doc.dump()), p, c.needle)) << c.why;
    }
}

TEST(CheckedParsers, WalMetadataAndLengthsAreChecked) {
    const ObjectParser& meta = parser("WAL metadata");
    const std::vector<std::pair<std::string, json>> cases = {
        {"raw_sha256", std::string(63, 'd')},
        {"raw_sha256", std::string(64, 'D')},
        {"codec", 2},
        {"raw_size", -1},
        {"commits", "3"},
        {"first_commit", "yesterday"},
        {"name", 7},
    };
    for (const auto& [field, value] : cases) {
        json doc = wal_meta_json();
        doc[field] = value;
        EXPECT_TRUE(corrupt_naming(meta.parse(doc.dump()), meta, field)) << doc.dump();
    }
    const ObjectParser& payload = parser("WAL payload");
    std::string huge = wal_payload(wal_meta_json().dump(), "data");
    put_u32le(huge, 0, 0xffffffffu);
    EXPECT_TRUE(corrupt_naming(payload.parse(huge), payload, "meta"));
}

TEST(CheckedParsers, ConfigPinLockIdentityAndDrillFieldsAreChecked) {
    struct Case {
        std::string kind;
        json doc;
        std::string needle;
    };
    std::vector<Case> cases;
    auto with = [](json doc, const char* pointer, json value) {
        doc[json::json_pointer(pointer)] = std::move(value);
        return doc;
    };
    // 2^32 + 8192 would have been read as 8192 by a narrowing reader.
    cases.push_back({"config", with(config_json(), "/block_size", 4294975488ull), "block_size"});
    cases.push_back({"config", with(config_json(), "/block_size", 1000), "multiple of 8192"});
    cases.push_back({"config", with(config_json(), "/compression/level", 0), "compression.level"});
    cases.push_back(
        {"config", with(config_json(), "/compression/level", 4294967299ull), "compression.level"});
    cases.push_back(
        {"config", with(config_json(), "/encryption/scrypt_n", 1ull << 40), "scrypt_n"});
    cases.push_back({"config", with(config_json(), "/encryption/scrypt_r", 0), "scrypt_r"});
    cases.push_back({"config", with(config_json(), "/encryption", "aes"), "encryption"});
    cases.push_back({"pin", with(pin_json(), "/until", 5), "until"});
    json no_created = pin_json();
    no_created.erase("created");
    cases.push_back({"pin", no_created, "created"});
    cases.push_back({"lock", with(lock_json(), "/pid", -1), "pid"});
    cases.push_back({"lock", with(lock_json(), "/pid", 1ull << 40), "pid"});
    cases.push_back({"lock", with(lock_json(), "/started", ""), "started"});
    cases.push_back({"cluster identity", json{{"system_identifier", "abc"}}, "system_identifier"});
    cases.push_back({"cluster identity", json{{"system_identifier", 7312}}, "system_identifier"});
    cases.push_back({"drill record", with(drill_json_sample(), "/passed", "yes"), "passed"});
    cases.push_back({"drill record", with(drill_json_sample(), "/target", 5), "target"});
    cases.push_back(
        {"drill record", with(drill_json_sample(), "/phases/total_seconds", "2"), "phases"});
    for (const auto& c : cases) {
        const ObjectParser& p = parser(c.kind);
        EXPECT_TRUE(corrupt_naming(p.parse(c.doc.dump()), p, c.needle))
            << c.kind << ": " << c.doc.dump();
    }
}
