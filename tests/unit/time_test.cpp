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

TEST(Time, PostgresTimestampsSaturateInsteadOfOverflowing) {
    EXPECT_EQ(from_postgres_micros(5).micros, k_postgres_epoch_offset_micros + 5);
    EXPECT_EQ(from_postgres_micros(INT64_MAX - 1000).micros, INT64_MAX);  // damaged input
    EXPECT_EQ(from_postgres_micros(INT64_MIN + 1000).micros,
              INT64_MIN + 1000 + k_postgres_epoch_offset_micros);
}

TEST(Time, RefusesMissingZoneAndGarbage) {
    for (const char* text : {"2026-11-26T08:00:00", "yesterday", "2026-13-01T00:00:00Z",
                             "2026-11-26T08:00:00Zjunk", ""}) {
        auto t = parse_iso8601(text);
        ASSERT_FALSE(t) << text;
        EXPECT_EQ(t.error().code, ErrorCode::usage);
    }
}

TEST(Time, RefusesZoneOffsetsOutOfRange) {
    for (const char* text :
         {"2030-01-01T00:00:00+99:99", "2030-01-01T00:00:00+24:00", "2030-01-01T00:00:00-23:00",
          "2030-01-01T00:00:00+14:01", "2030-01-01T00:00:00+05:60", "2030-01-01T00:00:00+0560"}) {
        auto t = parse_iso8601(text);
        ASSERT_FALSE(t) << text;
        EXPECT_EQ(t.error().code, ErrorCode::usage);
    }
    for (const char* text : {"2030-01-01T00:00:00+14:00", "2030-01-01T00:00:00-14:00",
                             "2030-01-01T00:00:00+05:45", "2030-01-01T00:00:00-0930"}) {
        EXPECT_TRUE(parse_iso8601(text)) << text;
    }
}

TEST(Time, RefusesTimesThatCannotBeStoredAndReadBack) {
    // Year 10000 once normalised to UTC, and before the Unix epoch.
    for (const char* text :
         {"9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z",
          "1970-01-01T00:30:00+01:00", "0000-01-01T00:00:00Z"}) {
        auto t = parse_iso8601(text);
        ASSERT_FALSE(t) << text;
        EXPECT_NE(t.error().message.find("range"), std::string::npos) << t.error().message;
    }
    // The bounds themselves are accepted, and what is formatted parses back to the same time.
    for (const char* text :
         {"1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+14:00"}) {
        auto t = parse_iso8601(text);
        ASSERT_TRUE(t) << text;
        auto back = parse_iso8601(format_iso8601(*t));
        ASSERT_TRUE(back) << format_iso8601(*t);
        EXPECT_EQ(back->micros, t->micros);
    }
    EXPECT_TRUE(in_time_range(k_earliest_time));
    EXPECT_TRUE(in_time_range(k_latest_time));
    EXPECT_FALSE(in_time_range(Timestamp{k_latest_time.micros + 1}));
    EXPECT_FALSE(in_time_range(Timestamp{-1}));
}

TEST(Duration, ParsesUnits) {
    EXPECT_EQ(parse_duration("90s").value(), std::chrono::seconds(90));
    EXPECT_EQ(parse_duration("30m").value(), std::chrono::minutes(30));
    EXPECT_EQ(parse_duration("36h").value(), std::chrono::hours(36));
    EXPECT_EQ(parse_duration("7d").value(), std::chrono::hours(7 * 24));
    EXPECT_EQ(parse_duration("0s").value(), std::chrono::seconds(0));
    EXPECT_EQ(parse_duration("36500d").value(), k_longest_duration);
}

TEST(Duration, RefusesOverflowAndGarbage) {
    // 200000000d * 86400 * 10^6 overflows 64 bits: refused, never wrapped around.
    for (const char* text : {"200000000d", "36501d", "876001h", "52560001m", "3153600001s",
                             "99999999999999999999d", "9223372036854775807s"}) {
        auto d = parse_duration(text);
        ASSERT_FALSE(d) << text;
        EXPECT_EQ(d.error().code, ErrorCode::usage);
        EXPECT_NE(d.error().message.find("too long"), std::string::npos) << d.error().message;
    }
    for (const char* text : {"", "d", "-1d", "+1d", "7", "7x", "7dd", "1.5h", " 7d", "7 d"}) {
        auto d = parse_duration(text);
        ASSERT_FALSE(d) << text;
        EXPECT_EQ(d.error().code, ErrorCode::usage);
    }
}

TEST(Duration, TimeBeforeRefusesToCrossTheEpoch) {
    const Timestamp now = parse_iso8601("2026-11-29T00:00:00Z").value();
    EXPECT_EQ(time_before(now, std::chrono::hours(24), "x").value(),
              parse_iso8601("2026-11-28T00:00:00Z").value());
    EXPECT_FALSE(time_before(now, k_longest_duration, "--ago 36500d"));
    EXPECT_FALSE(time_before(now, std::chrono::seconds(-1), "x"));
    EXPECT_FALSE(time_before(now, std::chrono::seconds(INT64_MAX), "x"));
}
