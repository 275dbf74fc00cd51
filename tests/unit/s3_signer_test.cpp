// The S3 backend's pure parts: SigV4 against AWS's published examples, location parsing, and the
// XML documents (list pages, errors). Network behaviour is in s3_retry_test.cpp and the
// conformance suite.
#include <gtest/gtest.h>

#include <map>

#include "storage/s3/s3_signer.hpp"
#include "storage/s3/s3_url.hpp"
#include "storage/s3/s3_xml.hpp"

namespace lifeboat::s3 {
namespace {

constexpr std::string_view k_empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The AWS "Signature Version 4 test suite" credentials and time.
const Credentials k_suite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
// The credentials of the S3 API reference's SigV4 examples.
const Credentials k_s3_docs{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(S3Signer, GetVanillaFromTheSigV4TestSuite) {
    SigningInput input{"GET",
                       "/",
                       {},
                       {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                       std::string(k_empty_sha256),
                       "us-east-1",
                       "service"};
    const Signature s = sign(input, k_suite, "20150830T123600Z");
    EXPECT_EQ(
        s.canonical_request,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(s.string_to_sign,
              "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(S3Signer, QueryParametersAreSortedFromTheSigV4TestSuite) {
    SigningInput input{"GET",
                       "/",
                       {{"Param2", "value2"}, {"Param1", "value1"}},
                       {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                       std::string(k_empty_sha256),
                       "us-east-1",
                       "service"};
    const Signature s = sign(input, k_suite, "20150830T123600Z");
    EXPECT_NE(s.canonical_request.find("\nParam1=value1&Param2=value2\n"), std::string::npos);
    EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(S3Signer, RangedGetObjectFromTheS3Documentation) {
    SigningInput input{"GET",
                       "/test.txt",
                       {},
                       {{"Host", "examplebucket.s3.amazonaws.com"},
                        {"Range", "bytes=0-9"},
                        {"x-amz-content-sha256", std::string(k_empty_sha256)},
                        {"x-amz-date", "20130524T000000Z"}},
                       std::string(k_empty_sha256),
                       "us-east-1"};
    const Signature s = sign(input, k_s3_docs, "20130524T000000Z");
    EXPECT_EQ(s.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    EXPECT_EQ(
        s.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Signer, ListObjectsFromTheS3Documentation) {
    SigningInput input{"GET",
                       "/",
                       {{"max-keys", "2"}, {"prefix", "J"}},
                       {{"Host", "examplebucket.s3.amazonaws.com"},
                        {"x-amz-content-sha256", std::string(k_empty_sha256)},
                        {"x-amz-date", "20130524T000000Z"}},
                       std::string(k_empty_sha256),
                       "us-east-1"};
    EXPECT_EQ(sign(input, k_s3_docs, "20130524T000000Z").signature,
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(S3Signer, HeaderValuesAreTrimmedAndRepeatedNamesJoined) {
    SigningInput input{"GET",
                       "/",
                       {},
                       {{"Host", "h"}, {"My-Header", "  a   b  "}, {"my-header", "c"}},
                       std::string(k_empty_sha256),
                       "us-east-1"};
    const Signature s = sign(input, k_suite, "20150830T123600Z");
    EXPECT_NE(s.canonical_request.find("\nmy-header:a b,c\n"), std::string::npos)
        << s.canonical_request;
    EXPECT_EQ(s.signed_headers, "host;my-header");
}

TEST(S3Signer, UriEncodingKeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(uri_encode("data/ab/x y+z~._-", SlashHandling::keep), "data/ab/x%20y%2Bz~._-");
    EXPECT_EQ(uri_encode("a/b=c&d", SlashHandling::encode), "a%2Fb%3Dc%26d");
    EXPECT_EQ(uri_encode("caf\xc3\xa9", SlashHandling::keep), "caf%C3%A9");
    EXPECT_EQ(canonical_query({{"prefix", "a/b c"}, {"list-type", "2"}, {"uploads", ""}}),
              "list-type=2&prefix=a%2Fb%20c&uploads=");
    EXPECT_EQ(sha256_hex(""), k_empty_sha256);
}

TEST(S3Signer, AmzDateIsUtc) {
    EXPECT_EQ(amz_date(Timestamp{1440938160LL * 1'000'000 + 999}), "20150830T123600Z");
    EXPECT_EQ(amz_day(Timestamp{1440938160LL * 1'000'000}), "20150830");
}

// --- Locations ----------------------------------------------------------------------------------

Environment fake_environment(std::map<std::string, std::string> values) {
    return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
        auto it = values.find(std::string(name));
        if (it == values.end()) return std::nullopt;
        return it->second;
    };
}

const std::map<std::string, std::string> k_keys = {{"AWS_ACCESS_KEY_ID", "AK"},
                                                   {"AWS_SECRET_ACCESS_KEY", "SK"}};

TEST(S3Location, DefaultsComeFromTheEnvironmentAndAws) {
    auto env = k_keys;
    env["AWS_REGION"] = "eu-west-3";
    auto settings = parse_location("s3://bucket/some/prefix/", fake_environment(env));
    ASSERT_TRUE(settings) << settings.error().message;
    EXPECT_EQ(settings->bucket, "bucket");
    EXPECT_EQ(settings->prefix, "some/prefix");
    EXPECT_EQ(settings->region, "eu-west-3");
    EXPECT_EQ(settings->endpoint, "https://s3.eu-west-3.amazonaws.com");
    EXPECT_EQ(settings->style, AddressingStyle::virtual_hosted);
    EXPECT_EQ(settings->tls, TlsVerification::verify);
    EXPECT_EQ(settings->credentials.access_key, "AK");
    EXPECT_EQ(settings->credentials.secret_key, "SK");
    EXPECT_EQ(display_location(*settings), "s3://bucket/some/prefix");

    auto bare = parse_location("s3://bucket", fake_environment(k_keys));
    ASSERT_TRUE(bare) << bare.error().message;
    EXPECT_EQ(bare->prefix, "");
    EXPECT_EQ(bare->region, "us-east-1");
}

TEST(S3Location, QueryParametersOverrideDefaults) {
    auto settings = parse_location(
        "s3://b/p?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=r1&style=path&ca_file=/x.pem"
        "&verify_tls=false&conditional_writes=verified",
        fake_environment(k_keys));
    ASSERT_TRUE(settings) << settings.error().message;
    EXPECT_EQ(settings->endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(settings->region, "r1");
    EXPECT_EQ(settings->style, AddressingStyle::path);
    EXPECT_EQ(settings->ca_file, "/x.pem");
    EXPECT_EQ(settings->tls, TlsVerification::skip);
    EXPECT_EQ(settings->conditional_writes, ConditionalWrites::verified);

    auto raw = parse_location("s3://b?endpoint=http://localhost:9000/", fake_environment(k_keys));
    ASSERT_TRUE(raw) << raw.error().message;
    EXPECT_EQ(raw->endpoint, "http://localhost:9000");
    EXPECT_EQ(raw->style, AddressingStyle::path);  // the default for an explicit endpoint
    EXPECT_EQ(raw->conditional_writes, ConditionalWrites::unverified);
}

TEST(S3Location, BadLocationsAreUsageErrors) {
    for (const char* location :
         {"s3://", "s3:///prefix", "s3://b?style=sideways", "s3://b?verify_tls=maybe",
          "s3://b?conditional_writes=yes", "s3://b?colour=blue", "s3://b?endpoint=ftp://x",
          "s3://b?endpoint=http://x/path", "s3://b/a/../c"}) {
        auto settings = parse_location(location, fake_environment(k_keys));
        ASSERT_FALSE(settings) << location;
        EXPECT_EQ(settings.error().code, ErrorCode::usage) << location;
    }
}

// Found by tests/fuzz/fuzz_s3_url: a region or bucket with other characters went into the AWS
// endpoint's host name (or a virtual-hosted one) unchecked, so "region=x@evil.example#" could
// send requests, signed, to another host.
TEST(S3Location, RegionAndBucketAreHostNameText) {
    for (const char* location :
         {"s3://b?region=x@evil.example%23", "s3://b?region=eu%0Awest", "s3://b?region=a/b",
          "s3://b?region=a%20b", "s3://user@evil.example/p", "s3://b:80/p", "s3://b%3F/p"}) {
        auto settings = parse_location(location, fake_environment(k_keys));
        ASSERT_FALSE(settings) << location;
        EXPECT_EQ(settings.error().code, ErrorCode::usage) << location;
    }
    auto env = k_keys;
    env["AWS_REGION"] = "eu west";
    EXPECT_FALSE(parse_location("s3://b", fake_environment(env)));
    for (const char* location : {"s3://my.bucket_1-x/p?region=eu-west-3", "s3://b?region=default",
                                 "s3://b?region=zone_group.1"}) {
        auto settings = parse_location(location, fake_environment(k_keys));
        EXPECT_TRUE(settings) << location << ": " << settings.error().message;
    }
}

TEST(S3Location, CredentialsComeFromTheSharedFileWhenNotInTheEnvironment) {
    const std::string path = ::testing::TempDir() + "/lb-s3-credentials";
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(
            "[default]\naws_access_key_id = DK\naws_secret_access_key = DS\n\n"
            "[other]\naws_access_key_id=OK\naws_secret_access_key=OS\n"
            "aws_session_token = OT\n",
            f);
        std::fclose(f);
    }
    auto plain =
        parse_location("s3://b", fake_environment({{"AWS_SHARED_CREDENTIALS_FILE", path}}));
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain->credentials.access_key, "DK");
    EXPECT_EQ(plain->credentials.secret_key, "DS");
    auto other = parse_location("s3://b", fake_environment({{"AWS_SHARED_CREDENTIALS_FILE", path},
                                                            {"AWS_PROFILE", "other"}}));
    ASSERT_TRUE(other) << other.error().message;
    EXPECT_EQ(other->credentials.access_key, "OK");
    EXPECT_EQ(other->credentials.session_token, "OT");
    auto missing = parse_location("s3://b", fake_environment({{"AWS_SHARED_CREDENTIALS_FILE", path},
                                                              {"AWS_PROFILE", "nope"}}));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::config);
    std::remove(path.c_str());
}

TEST(S3Location, TargetsForBothAddressingStyles) {
    Settings settings;
    settings.bucket = "bkt";
    settings.style = AddressingStyle::path;
    const Endpoint endpoint{"http", "127.0.0.1:9000"};
    Target t = make_target(settings, endpoint, "p/a b", {});
    EXPECT_EQ(t.url, "http://127.0.0.1:9000/bkt/p/a%20b");
    EXPECT_EQ(t.host, "127.0.0.1:9000");
    EXPECT_EQ(t.canonical_uri, "/bkt/p/a%20b");
    t = make_target(settings, endpoint, "", {{"list-type", "2"}, {"prefix", "p/"}});
    EXPECT_EQ(t.url, "http://127.0.0.1:9000/bkt?list-type=2&prefix=p%2F");
    settings.style = AddressingStyle::virtual_hosted;
    t = make_target(settings, Endpoint{"https", "s3.us-east-1.amazonaws.com"}, "k", {});
    EXPECT_EQ(t.url, "https://bkt.s3.us-east-1.amazonaws.com/k");
    EXPECT_EQ(t.host, "bkt.s3.us-east-1.amazonaws.com");
    EXPECT_EQ(t.canonical_uri, "/k");
}

// --- XML ----------------------------------------------------------------------------------------

TEST(S3Xml, ListPageWithContinuationAndEscapedKeys) {
    const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>p/a&amp;b&lt;c&gt;&quot;d&apos;&#233;&#x41;</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;x&quot;</ETag>
    <Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>p/empty</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified>
    <Size>0</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";
    auto page = parse_list_objects(xml);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->objects.size(), 2u);
    EXPECT_EQ(page->objects[0].key,
              "p/a&b<c>\"d'\xc3\xa9"
              "A");
    EXPECT_EQ(page->objects[0].size, 434234u);
    EXPECT_EQ(page->objects[0].modified.micros, 1255369830LL * 1'000'000);
    EXPECT_EQ(page->objects[1].key, "p/empty");
    EXPECT_EQ(page->objects[1].size, 0u);
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, LastPageAndEmptyListing) {
    auto last = parse_list_objects(
        "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size>"
        "</Contents></ListBucketResult>");
    ASSERT_TRUE(last) << last.error().message;
    EXPECT_FALSE(last->truncated);
    EXPECT_EQ(last->objects.size(), 1u);
    auto empty = parse_list_objects(
        "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>");
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_TRUE(empty->objects.empty());
}

TEST(S3Xml, MalformedListingsAreRefused) {
    EXPECT_FALSE(parse_list_objects("<Error><Code>AccessDenied</Code></Error>"));
    EXPECT_FALSE(parse_list_objects(
        "<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>"));
    EXPECT_FALSE(parse_list_objects(
        "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents>"
        "</ListBucketResult>"));
    EXPECT_FALSE(
        parse_list_objects("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"));
}

TEST(S3Xml, ErrorBodies) {
    auto error = parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>
<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>)");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, "NoSuchKey");
    EXPECT_EQ(error->message, "The resource you requested does not exist");
    EXPECT_FALSE(parse_error(""));
    EXPECT_FALSE(parse_error("<ListBucketResult></ListBucketResult>"));
}

TEST(S3Xml, CompleteMultipartBodyNumbersPartsFromOne) {
    EXPECT_EQ(complete_multipart_body({"\"e1\"", "\"e2\""}),
              "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;"
              "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
              "</CompleteMultipartUpload>");
}

}  // namespace
}  // namespace lifeboat::s3
