// The few S3 XML documents Lifeboat reads and writes, handled with a deliberately small parser:
// S3 responses are flat, machine-written XML, so finding <Name>text</Name> pairs is enough. Text
// is XML-unescaped (the five named entities and numeric character references); CDATA, comments
// and namespaces prefixes are not supported (S3 does not send them in these documents).
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
// Refuses (ErrorCode::corrupt) an unknown entity or a malformed character reference.
Result<std::string> xml_unescape(std::string_view text);

// The raw (still escaped) content of every <name>...</name> element, in document order; an empty
// element (<name/>) gives "". Elements of the same name must not nest.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view name);
// The unescaped text of the first <name> element, or nullopt when there is none.
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
Result<ListPage> parse_list_objects(std::string_view xml);

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
