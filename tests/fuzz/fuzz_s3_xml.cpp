// Fuzz target: the S3 XML responses Lifeboat reads (storage/s3/s3_xml.hpp): object listings,
// multipart upload listings, error bodies, first-text lookups, and the escaping of text (escaped
// text inside an element parses back to itself whenever it is XML at all: bytes XML cannot hold,
// such as most control characters or invalid UTF-8, make the document refused, never misread;
// a carriage return is left out, as XML reads every line end as a line feed).
#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/s3/s3_xml.hpp"

using namespace lifeboat;
using namespace lifeboat::s3;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view xml(reinterpret_cast<const char*>(data), size);
    (void)parse_list_objects(xml);
    (void)parse_list_multipart_uploads(xml);
    (void)parse_error(xml);
    (void)xml_first_text(xml, "UploadId");
    if (xml.find('\r') != std::string_view::npos) return 0;
    auto round = parse_xml("<Key>" + xml_escape(xml) + "</Key>");
    if (round && (round->name != "Key" || round->text != xml || !round->children.empty())) {
        __builtin_trap();
    }
    return 0;
}
