// The logical change log's framing (drivers/postgres_logical/change_log.hpp): records written
// and read back, every kind of damage refused, and the object names' spans.
#include <gtest/gtest.h>

#include "drivers/postgres_logical/change_log.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

TEST(ChangeLog, RecordsComeBackInOrderWithTheirKindsPositionsAndBytes) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::relation, 0x10, std::string_view("R\0\0\x40\x01", 5));
    writer.add(ChangeRecordKind::message, 0x1'0000'0020, "B...");
    writer.add(ChangeRecordKind::sequence, 0x30, "public\tids\t42\tt");
    writer.add(ChangeRecordKind::message, 0x40, "");
    writer.add(ChangeRecordKind::session_start, 0x50, "");
    EXPECT_EQ(writer.records(), 5u);
    const std::string content = writer.take();
    EXPECT_EQ(writer.records(), 0u);
    EXPECT_EQ(writer.size(), 5u);  // a fresh object: magic and version only
    auto records = read_change_log(content, "logical/x");
    ASSERT_TRUE(records) << records.error().message;
    ASSERT_EQ(records->size(), 5u);
    EXPECT_EQ((*records)[4].kind, ChangeRecordKind::session_start);
    EXPECT_EQ((*records)[0].kind, ChangeRecordKind::relation);
    EXPECT_EQ((*records)[0].payload, std::string_view("R\0\0\x40\x01", 5));
    EXPECT_EQ((*records)[1].lsn, 0x1'0000'0020u);
    EXPECT_EQ((*records)[1].payload, "B...");
    EXPECT_EQ((*records)[2].kind, ChangeRecordKind::sequence);
    EXPECT_EQ((*records)[3].payload, "");
}

TEST(ChangeLog, DamageIsRefusedAsCorruptNamingTheObject) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::message, 1, "hello");
    const std::string good = writer.take();
    auto expect_corrupt = [](std::string_view content) {
        auto records = read_change_log(content, "logical/obj");
        ASSERT_FALSE(records);
        EXPECT_EQ(records.error().code, ErrorCode::corrupt);
        EXPECT_NE(records.error().message.find("logical/obj"), std::string::npos);
    };
    expect_corrupt("");
    expect_corrupt("LBCX\x01");
    std::string other_version = good;
    other_version[4] = 2;
    expect_corrupt(other_version);
    std::string bad_kind = good;
    bad_kind[5] = 'Z';
    expect_corrupt(bad_kind);
    for (std::size_t cut = 6; cut < good.size(); ++cut)
        expect_corrupt(good.substr(0, cut));
    std::string long_length = good;
    long_length[5 + 1 + 8 + 3] = 6;  // says 6 bytes, 5 follow
    expect_corrupt(long_length);
}

TEST(ChangeLog, ObjectNamesSortInStreamOrderAndParseBack) {
    EXPECT_EQ(change_log_object_name(0x16'B374D848, 0x17'00000000),
              "logical/00000016B374D848-0000001700000000");
    EXPECT_LT(change_log_object_name(0x9, 0x10), change_log_object_name(0x10, 0x20));
    auto span = parse_change_log_object_name("logical/00000016B374D848-0000001700000000");
    ASSERT_TRUE(span);
    EXPECT_EQ(span->start, 0x16'B374D848u);
    EXPECT_EQ(span->end, 0x17'00000000u);
    EXPECT_FALSE(parse_change_log_object_name("000000010000000000000001"));
    EXPECT_FALSE(parse_change_log_object_name("logical/00000016b374d848-0000001700000000"));
    EXPECT_FALSE(parse_change_log_object_name("logical/0000001700000000-0000001600000000"));
    EXPECT_FALSE(parse_change_log_object_name("logical/00000016B374D848_0000001700000000"));
    EXPECT_FALSE(parse_change_log_object_name("logical/00000016B374D848-00000017000000000"));
}
