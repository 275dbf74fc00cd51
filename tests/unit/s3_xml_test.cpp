// S3 XML (src/storage/s3/s3_xml.hpp): listings with odd keys, entities, CDATA, and bodies cut
// short, which must be refused rather than read as a shorter listing.
#include <gtest/gtest.h>

#include <string>

#include "storage/s3/s3_xml.hpp"

using namespace lifeboat;
using namespace lifeboat::s3;

namespace {

std::string listing(const std::string& contents, const std::string& tail = "") {
    return R"(<?xml version="1.0" encoding="UTF-8"?>)"
           "\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
           "<Name>bucket</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount>" +
           contents + tail + "</ListBucketResult>";
}

std::string object(const std::string& escaped_key, int size) {
    return "<Contents><Key>" + escaped_key + "</Key><LastModified>2026-01-02T03:04:05.000Z" +
           "</LastModified><ETag>&quot;e&quot;</ETag><Size>" + std::to_string(size) +
           "</Size><StorageClass>STANDARD</StorageClass></Contents>";
}

}  // namespace

TEST(S3Xml, OddKeysComeBackExactly) {
    const std::string xml =
        listing(object("p/with space", 1) + object("p/a&amp;b&lt;c&gt;d&quot;e&apos;f", 2) +
                    object("p/caf\xc3\xa9-\xe2\x82\xac-&#x1F600;-&#233;", 3) +
                    object("p/x]]&gt;y", 4) + object("p/<![CDATA[a&b<c>]]>-tail", 5) +
                    object("p/<!-- a comment -->kept", 6) + object("p/line&#10;feed", 7),
                "<IsTruncated>false</IsTruncated>");
    auto page = parse_list_objects(xml);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->objects.size(), 7u);
    EXPECT_EQ(page->objects[0].key, "p/with space");
    EXPECT_EQ(page->objects[1].key, "p/a&b<c>d\"e'f");
    EXPECT_EQ(page->objects[2].key, "p/caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-\xc3\xa9");
    EXPECT_EQ(page->objects[3].key, "p/x]]>y");
    EXPECT_EQ(page->objects[4].key, "p/a&b<c>-tail");
    EXPECT_EQ(page->objects[5].key, "p/kept");
    EXPECT_EQ(page->objects[6].key, "p/line\nfeed");
    for (std::size_t i = 0; i < page->objects.size(); ++i)
        EXPECT_EQ(page->objects[i].size, i + 1);
    EXPECT_EQ(page->objects[0].modified.micros, 1767323045LL * 1'000'000);
    EXPECT_FALSE(page->truncated);
}

TEST(S3Xml, NamespacePrefixesAndKeyLikeNamesDoNotConfuseIt) {
    auto page = parse_list_objects(
        "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<s3:KeyCount>1</s3:KeyCount><s3:Contents><s3:Key>k</s3:Key><s3:Size>9</s3:Size>"
        "</s3:Contents><s3:IsTruncated>true</s3:IsTruncated>"
        "<s3:NextContinuationToken>t&amp;u</s3:NextContinuationToken></s3:ListBucketResult>");
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->objects.size(), 1u);
    EXPECT_EQ(page->objects[0].key, "k");
    EXPECT_EQ(page->objects[0].size, 9u);
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->next_continuation_token, "t&u");
}

// Every proper prefix of a listing (a body cut short by a dropped connection or a proxy) is
// refused: none may come back as a listing with fewer objects.
TEST(S3Xml, EveryTruncatedBodyIsRefused) {
    const std::string xml = listing(object("p/a", 1) + object("p/b&amp;c", 2) + object("p/d", 3),
                                    "<IsTruncated>false</IsTruncated>");
    ASSERT_TRUE(parse_list_objects(xml));
    for (std::size_t cut = 0; cut < xml.size(); ++cut) {
        auto page = parse_list_objects(std::string_view(xml).substr(0, cut));
        EXPECT_FALSE(page) << "a body cut at byte " << cut << " of " << xml.size()
                           << " was read as a listing of " << page->objects.size() << " objects";
        if (!page) {
            EXPECT_EQ(page.error().code, ErrorCode::corrupt);
        }
    }
}

TEST(S3Xml, MalformedDocumentsAndDeclaredEntitiesAreRefused) {
    // Not well-formed: mismatched tags, a bare '&', an undefined entity, two roots.
    EXPECT_FALSE(parse_list_objects(listing("<Contents><Key>k</Size></Contents>")));
    EXPECT_FALSE(parse_list_objects(listing(object("a&b", 1))));
    EXPECT_FALSE(parse_list_objects(listing(object("a&bogus;", 1))));
    EXPECT_FALSE(parse_list_objects(listing("") + "<ListBucketResult/>"));
    // A document type declaration (entity expansion, external entities) is never accepted.
    auto with_dtd = parse_list_objects(
        "<!DOCTYPE ListBucketResult [<!ENTITY x \"p/evil\">]>"
        "<ListBucketResult><Contents><Key>&x;</Key><Size>1</Size></Contents>"
        "</ListBucketResult>");
    ASSERT_FALSE(with_dtd);
    EXPECT_NE(with_dtd.error().message.find("document type"), std::string::npos)
        << with_dtd.error().message;
    // Well-formed, but not a usable listing.
    EXPECT_FALSE(parse_list_objects(listing("<Contents><Size>1</Size></Contents>")));
    EXPECT_FALSE(parse_list_objects(listing("<Contents><Key>k</Key></Contents>")));
    EXPECT_FALSE(parse_list_objects(listing(object("k", 1) + "<Contents><Key>k</Key><Size>-1"
                                                             "</Size></Contents>")));
}

TEST(S3Xml, ErrorBodiesInsideOtherDocumentsAndBrokenOnes) {
    auto error = parse_error(
        "<Error><Code>SlowDown</Code><Message>Please &lt;reduce&gt; your rate</Message></Error>");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, "SlowDown");
    EXPECT_EQ(error->message, "Please <reduce> your rate");
    EXPECT_FALSE(parse_error("<Error><Code>SlowDown</Code>"));  // cut short: not an error body
    EXPECT_FALSE(parse_error("not xml at all"));
}

TEST(S3Xml, FirstTextOfADocument) {
    auto id = xml_first_text(
        "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>VXBsb2FkIElE&#43;</UploadId></InitiateMultipartUploadResult>",
        "UploadId");
    ASSERT_TRUE(id && *id);
    EXPECT_EQ(**id, "VXBsb2FkIElE+");
    auto missing = xml_first_text("<A><B>x</B></A>", "UploadId");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);
    EXPECT_FALSE(xml_first_text("<A><UploadId>abc</UploadId>", "UploadId"));  // truncated
}

TEST(S3Xml, MultipartUploadListingsAsRgwSendsThem) {
    // A page as Ceph RGW sends it (tests/conformance/rgw_conformance.cpp lists real ones).
    const std::string upload =
        "<Upload><Key>p/data/a&amp;b</Key><UploadId>2~Wld7PE7I</UploadId><Initiator><ID>u</ID>"
        "</Initiator><StorageClass>STANDARD</StorageClass>"
        "<Initiated>2026-11-29T20:14:21.031Z</Initiated></Upload>";
    const std::string head =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Prefix>p/</Prefix>";
    auto page = parse_list_multipart_uploads(
        head + "<NextKeyMarker>p/data/a&amp;b</NextKeyMarker><NextUploadIdMarker>2~Wld7PE7I" +
        "</NextUploadIdMarker><IsTruncated>true</IsTruncated>" + upload +
        "</ListMultipartUploadsResult>");
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->uploads.size(), 1u);
    EXPECT_EQ(page->uploads[0].key, "p/data/a&b");
    EXPECT_EQ(page->uploads[0].upload_id, "2~Wld7PE7I");
    EXPECT_EQ(format_iso8601(page->uploads[0].initiated), "2026-11-29T20:14:21.031000Z");
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->next_key_marker, "p/data/a&b");
    EXPECT_EQ(page->next_upload_id_marker, "2~Wld7PE7I");

    auto empty = parse_list_multipart_uploads(head + "<IsTruncated>false</IsTruncated>" +
                                              "</ListMultipartUploadsResult>");
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_TRUE(empty->uploads.empty());
    EXPECT_FALSE(empty->truncated);

    // Refused: another document, an upload without an id or time, a truncated page without a
    // marker, a body cut short.
    for (const std::string& bad :
         {std::string("<ListBucketResult></ListBucketResult>"),
          head + "<Upload><Key>k</Key><Initiated>2026-11-29T20:14:21Z</Initiated></Upload>" +
              "</ListMultipartUploadsResult>",
          head + "<Upload><Key>k</Key><UploadId>u</UploadId><Initiated>yesterday</Initiated>" +
              "</Upload></ListMultipartUploadsResult>",
          head + "<IsTruncated>true</IsTruncated></ListMultipartUploadsResult>", head + upload}) {
        auto refused = parse_list_multipart_uploads(bad);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().code, ErrorCode::corrupt) << bad;
    }
}
