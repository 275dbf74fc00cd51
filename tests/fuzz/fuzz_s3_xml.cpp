// Fuzz target: the S3 XML responses Lifeboat reads (storage/s3/s3_xml.hpp): object listings,
// error bodies, and the escaping of text (what is escaped unescapes to itself).
#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/s3/s3_xml.hpp"

using namespace lifeboat;
using namespace lifeboat::s3;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view xml(reinterpret_cast<const char*>(data), size);
    (void)parse_list_objects(xml);
    (void)parse_error(xml);
    (void)xml_unescape(xml);
    const auto round = xml_unescape(xml_escape(xml));
    if (!round || *round != xml) __builtin_trap();
    return 0;
}
