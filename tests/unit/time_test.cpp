#include <gtest/gtest.h>

#include "util/time.hpp"

using namespace lifeboat;

TEST(Time, ParsesUtcAndOffsets) {
    auto a = parse_iso8601("2026-11-26T08:00:00Z");
    ASSERT_TRUE(a);
    auto b = parse_iso8601("2026-11-26 09:00:00+01:00");
    ASSERT_TRUE(b);
    EXPECT_EQ(a->micros, b->micros);
    auto c = parse_iso8601("2026-11-26T03:00:00-0500");
    ASSERT_TRUE(c);
    EXPECT_EQ(a->micros, c->micros);
    EXPECT_EQ(format_iso8601(*a), "2026-11-26T08:00:00Z");
}

TEST(Time, KeepsMicroseconds) {
    auto t = parse_iso8601("2000-01-01T00:00:00.000001Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->micros, k_postgres_epoch_offset_micros + 1);
    EXPECT_EQ(format_iso8601(*t), "2000-01-01T00:00:00.000001Z");
    EXPECT_EQ(format_compact(*t), "20000101T000000Z");
}

TEST(Time, RefusesMissingZoneAndGarbage) {
    for (const char* text : {"2026-11-26T08:00:00", "yesterday", "2026-13-01T00:00:00Z",
                             "2026-11-26T08:00:00Zjunk", ""}) {
        auto t = parse_iso8601(text);
        ASSERT_FALSE(t) << text;
        EXPECT_EQ(t.error().code, ErrorCode::usage);
    }
}
