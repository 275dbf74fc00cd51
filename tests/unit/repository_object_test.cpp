// The object envelope (docs/repository-format.md, "Object envelope"): layout, round trips, and
// every way a damaged or foreign object must be refused as corruption naming its key.
#include <gtest/gtest.h>

#include <array>

#include "codec/compress.hpp"
#include "repository/object.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

constexpr std::array k_kinds = {ObjectKind::config, ObjectKind::pack, ObjectKind::index,
                                ObjectKind::manifest, ObjectKind::wal};
constexpr std::string_view k_key = "backups/20261126T080000Z";

std::string encode(ObjectKind kind, std::string_view payload, PayloadCompression compression) {
    auto object = encode_object(kind, payload, compression);
    EXPECT_TRUE(object) << object.error().message;
    return object.value_or("");
}

}  // namespace

TEST(ObjectEnvelope, KindTagsAreTheDocumentedFourLetters) {
    EXPECT_EQ(kind_tag(ObjectKind::config), "CONF");
    EXPECT_EQ(kind_tag(ObjectKind::pack), "PACK");
    EXPECT_EQ(kind_tag(ObjectKind::index), "INDX");
    EXPECT_EQ(kind_tag(ObjectKind::manifest), "MNFT");
    EXPECT_EQ(kind_tag(ObjectKind::wal), "WALF");
}

TEST(ObjectEnvelope, UncompressedObjectHasTheDocumentedLayout) {
    const std::string payload = std::string("payload\0with\xff binary", 20);
    const std::string object = encode(ObjectKind::manifest, payload, PayloadCompression::none);
    ASSERT_EQ(object.size(), k_header_size + payload.size() + k_trailer_size);
    EXPECT_EQ(object.substr(0, 8), "LIFEBOAT");
    EXPECT_EQ(object.substr(8, 4), "MNFT");
    EXPECT_EQ(get_u32le(object, 12), 2u);  // version: MNFT is at 2 (format 2 manifests)
    EXPECT_EQ(get_u32le(object, 16), 0u);  // flags
    EXPECT_EQ(get_u32le(object, 20), 0u);  // reserved
    EXPECT_EQ(object.substr(0, k_header_size), encode_header(ObjectKind::manifest, 0));
    EXPECT_EQ(object.substr(k_header_size, payload.size()), payload);
    const std::string body = object.substr(0, object.size() - k_trailer_size);
    EXPECT_EQ(object.substr(body.size()), digest_bytes(sha256(body)));
}

TEST(ObjectEnvelope, ReadersAcceptEveryVersionUpToTheCurrentOneOfTheirKind) {
    for (const ObjectKind kind : k_kinds) {
        for (std::uint32_t version = 0; version <= current_version(kind) + 1; ++version) {
            std::string object = encode(kind, "x", PayloadCompression::none);
            put_u32le(object, 12, version);
            object.replace(object.size() - k_trailer_size, k_trailer_size,
                           digest_bytes(sha256(object.substr(0, object.size() - k_trailer_size))));
            const bool known = version >= 1 && version <= current_version(kind);
            auto decoded = decode_object(object, kind, k_key);
            EXPECT_EQ(decoded.has_value(), known) << kind_tag(kind) << " version " << version;
            if (!known)
                EXPECT_NE(decoded.error().message.find("format version"), std::string::npos);
            if (known) EXPECT_EQ(object_version(object), version);
        }
    }
    EXPECT_EQ(current_version(ObjectKind::manifest), 2u);
    EXPECT_EQ(current_version(ObjectKind::pack), 1u);
}

TEST(ObjectEnvelope, RoundTripsWithoutCompressionForEveryKind) {
    for (const ObjectKind kind : k_kinds) {
        for (const std::string& payload :
             {std::string(), std::string("x"), random_bytes(10'000, 1)}) {
            const std::string object = encode(kind, payload, PayloadCompression::none);
            auto decoded = decode_object(object, kind, k_key);
            ASSERT_TRUE(decoded) << kind_tag(kind) << ": " << decoded.error().message;
            EXPECT_EQ(*decoded, payload) << kind_tag(kind);
        }
    }
}

TEST(ObjectEnvelope, ZstdPayloadIsOneFrameFlaggedInBitZeroAndRoundTrips) {
    const std::string payload = compressible_text(100'000, 2);
    for (const ObjectKind kind : k_kinds) {
        const std::string object = encode(kind, payload, PayloadCompression::zstd);
        EXPECT_LT(object.size(), payload.size() / 4) << kind_tag(kind);
        EXPECT_EQ(get_u32le(object, 16), k_flag_zstd_payload);
        EXPECT_EQ(object.substr(0, k_header_size), encode_header(kind, k_flag_zstd_payload));
        // The payload is a standard zstd frame: anyone with zstd can read it.
        const std::string frame =
            object.substr(k_header_size, object.size() - k_header_size - k_trailer_size);
        EXPECT_EQ(frame.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
        EXPECT_EQ(zstd_decompress(frame).value_or(""), payload);

        auto decoded = decode_object(object, kind, k_key);
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(*decoded, payload);
    }
    auto empty = decode_object(encode(ObjectKind::index, "", PayloadCompression::zstd),
                               ObjectKind::index, k_key);
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_EQ(*empty, "");
}

TEST(ObjectEnvelope, EveryKindMismatchIsCorruptNamingTheKey) {
    for (const ObjectKind stored : k_kinds) {
        const std::string object = encode(stored, "{}", PayloadCompression::none);
        for (const ObjectKind expected : k_kinds) {
            if (stored == expected) continue;
            auto decoded = decode_object(object, expected, k_key);
            EXPECT_TRUE(fails_with(decoded, ErrorCode::corrupt, k_key))
                << kind_tag(stored) << " read as " << kind_tag(expected);
            EXPECT_TRUE(fails_with(decoded, ErrorCode::corrupt, kind_tag(stored)));
            EXPECT_TRUE(fails_with(decoded, ErrorCode::corrupt, kind_tag(expected)));
            EXPECT_TRUE(
                fails_with(check_header(object, expected, k_key), ErrorCode::corrupt, k_key));
        }
    }
}

TEST(ObjectEnvelope, BadMagicIsCorruptNamingTheKey) {
    const std::string object = encode(ObjectKind::manifest, "{}", PayloadCompression::none);
    for (std::size_t at = 0; at < 8; ++at) {
        const std::string damaged = reseal(flip_byte(object, at, 0x20));
        EXPECT_TRUE(fails_with(decode_object(damaged, ObjectKind::manifest, k_key),
                               ErrorCode::corrupt, k_key))
            << "byte " << at;
        EXPECT_TRUE(fails_with(decode_object(damaged, ObjectKind::manifest, k_key),
                               ErrorCode::corrupt, "magic"));
    }
    // Not a Lifeboat object at all, though long enough.
    EXPECT_TRUE(fails_with(decode_object(std::string(200, 'x'), ObjectKind::config, "config"),
                           ErrorCode::corrupt, "config"));
}

TEST(ObjectEnvelope, UnknownVersionIsCorruptNamingKeyAndVersion) {
    const std::string object = encode(ObjectKind::wal, "payload", PayloadCompression::none);
    for (const std::uint32_t version : {0u, 2u, 0x100u, 0xffffffffu}) {
        std::string edited = object;
        put_u32le(edited, 12, version);
        auto decoded = decode_object(reseal(edited), ObjectKind::wal, k_key);
        EXPECT_TRUE(fails_with(decoded, ErrorCode::corrupt, k_key)) << version;
        EXPECT_TRUE(fails_with(decoded, ErrorCode::corrupt, fmt::format("version {}", version)));
    }
}

TEST(ObjectEnvelope, UnknownFlagsAreCorruptNamingTheKey) {
    const std::string object = encode(ObjectKind::pack, "payload", PayloadCompression::none);
    for (unsigned bit = 1; bit < 32; ++bit) {  // bits 8..15 are the (future) encryption scheme
        std::string edited = object;
        put_u32le(edited, 16, 1u << bit);
        EXPECT_TRUE(fails_with(decode_object(reseal(edited), ObjectKind::pack, k_key),
                               ErrorCode::corrupt, k_key))
            << "bit " << bit;
        EXPECT_TRUE(
            fails_with(check_header(edited, ObjectKind::pack, k_key), ErrorCode::corrupt, k_key))
            << "bit " << bit;
    }
}

TEST(ObjectEnvelope, ZstdFlagOverAPayloadThatIsNoFrameIsCorruptNamingTheKey) {
    std::string edited = encode(ObjectKind::index, "definitely not zstd", PayloadCompression::none);
    put_u32le(edited, 16, k_flag_zstd_payload);
    EXPECT_TRUE(fails_with(decode_object(reseal(edited), ObjectKind::index, k_key),
                           ErrorCode::corrupt, k_key));
}

TEST(ObjectEnvelope, TruncatedObjectIsCorruptNamingTheKey) {
    for (const auto compression : {PayloadCompression::none, PayloadCompression::zstd}) {
        const std::string object =
            encode(ObjectKind::manifest, compressible_text(300, 3), compression);
        for (std::size_t length = 0; length < object.size(); ++length) {
            EXPECT_TRUE(fails_with(decode_object(std::string_view(object).substr(0, length),
                                                 ObjectKind::manifest, k_key),
                                   ErrorCode::corrupt, k_key))
                << "first " << length << " of " << object.size() << " bytes";
        }
    }
}

TEST(ObjectEnvelope, TrailingGarbageIsCorruptNamingTheKey) {
    const std::string object = encode(ObjectKind::manifest, "{}", PayloadCompression::none);
    EXPECT_TRUE(fails_with(decode_object(object + "x", ObjectKind::manifest, k_key),
                           ErrorCode::corrupt, k_key));
    EXPECT_TRUE(fails_with(decode_object(object + object, ObjectKind::manifest, k_key),
                           ErrorCode::corrupt, k_key));
}

TEST(ObjectEnvelope, FlippedByteAnywhereIsCorruptNamingTheKey) {
    for (const auto compression : {PayloadCompression::none, PayloadCompression::zstd}) {
        const std::string object =
            encode(ObjectKind::manifest, compressible_text(500, 4), compression);
        for (std::size_t at = 0; at < object.size(); ++at) {
            for (const unsigned char mask : {0x01, 0x80}) {
                EXPECT_TRUE(fails_with(
                    decode_object(flip_byte(object, at, mask), ObjectKind::manifest, k_key),
                    ErrorCode::corrupt, k_key))
                    << "byte " << at << " of " << object.size() << " xor " << int(mask);
            }
        }
    }
}

TEST(ObjectEnvelope, CheckHeaderAcceptsAGoodHeaderAndRefusesAShortOne) {
    const std::string object = encode(ObjectKind::pack, "x", PayloadCompression::none);
    EXPECT_TRUE(check_header(object.substr(0, k_header_size), ObjectKind::pack, k_key));
    EXPECT_TRUE(
        check_header(encode_header(ObjectKind::wal, k_flag_zstd_payload), ObjectKind::wal, k_key));
    for (std::size_t length : {0, 8, 12, 23}) {
        EXPECT_TRUE(fails_with(check_header(object.substr(0, length), ObjectKind::pack, k_key),
                               ErrorCode::corrupt, k_key))
            << length;
    }
}
