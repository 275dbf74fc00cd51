// The few S3 XML documents Lifeboat reads and writes. Responses are parsed by a real XML parser
// (expat) into a small element tree: entities, character references, CDATA sections, comments
// and namespace prefixes are handled as XML defines them, and a malformed or truncated document is
// refused as a whole (never read as a shorter one). Document type declarations are refused, so
// no entity other than XML's own five is ever expanded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/time.hpp"

namespace lifeboat::s3 {

std::string xml_escape(std::string_view text);

// An element of a parsed document: its local name (any namespace prefix dropped), the character
// data directly inside it (entities and CDATA resolved; around child elements, their whitespace
// too), and its child elements in document order.
struct XmlElement {
    std::string name;
    std::string text;
    std::vector<XmlElement> children;

    // The first direct child named `name`, or null.
    const XmlElement* child(std::string_view child_name) const;
    // Every direct child named `name`.
    std::vector<const XmlElement*> children_named(std::string_view child_name) const;
    // The first element named `name` in document order, this one included, or null.
    const XmlElement* find(std::string_view element_name) const;
};

// The root element of `xml`. Refused with ErrorCode::corrupt: malformed or truncated XML, a
// document type declaration, nesting deeper than 64 elements.
Result<XmlElement> parse_xml(std::string_view xml);

// The text of the first <name> element of the document, or nullopt when there is none; refused
// (ErrorCode::corrupt) when the document itself is malformed.
Result<std::optional<std::string>> xml_first_text(std::string_view xml, std::string_view name);

struct ListedObject {
    std::string key;  // full key, unescaped
    std::uint64_t size = 0;
    Timestamp modified;
};

// One page of a ListObjectsV2 response.
struct ListPage {
    std::vector<ListedObject> objects;
    bool truncated = false;
    std::string next_continuation_token;  // set when truncated
};
// Refused (ErrorCode::corrupt): anything but a complete, well-formed ListBucketResult document
// whose objects all have a key and a numeric size.
Result<ListPage> parse_list_objects(std::string_view xml);

// One page of a ListMultipartUploads response: uploads started and not yet completed or aborted.
struct ListedUpload {
    std::string key;  // full key, unescaped
    std::string upload_id;
    Timestamp initiated;
};
struct UploadsPage {
    std::vector<ListedUpload> uploads;
    bool truncated = false;
    std::string next_key_marker;        // set when truncated
    std::string next_upload_id_marker;  // set when truncated
};
// Refused (ErrorCode::corrupt): anything but a complete, well-formed ListMultipartUploadsResult
// document whose uploads all have a key, an upload id and a parseable initiation time.
Result<UploadsPage> parse_list_multipart_uploads(std::string_view xml);

// The <Error><Code>..</Code><Message>..</Message></Error> body S3 sends with a failure (and, for
// CompleteMultipartUpload, sometimes with a 200). nullopt when `xml` is not such a document.
struct ErrorBody {
    std::string code;
    std::string message;
};
std::optional<ErrorBody> parse_error(std::string_view xml);

// The body of CompleteMultipartUpload: part numbers from 1 with the ETags S3 returned.
std::string complete_multipart_body(const std::vector<std::string>& etags);

}  // namespace lifeboat::s3
