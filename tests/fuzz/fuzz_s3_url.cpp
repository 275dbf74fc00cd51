// Fuzz target: S3 locations (storage/s3/s3_url.hpp): parsing a location with a fixed environment
// (credentials present, so parsing goes past them), endpoints, percent-decoding, and building a
// request target from whatever parsed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "storage/s3/s3_url.hpp"

using namespace lifeboat;
using namespace lifeboat::s3;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Environment environment = [](std::string_view name) -> std::optional<std::string> {
        if (name == "AWS_ACCESS_KEY_ID") return "AKIDEXAMPLE";
        if (name == "AWS_SECRET_ACCESS_KEY") return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        return std::nullopt;
    };
    (void)is_s3_location(text);
    (void)percent_decode(text);
    (void)parse_endpoint(text);
    const auto settings = parse_location(text, environment);
    if (!settings) return 0;
    (void)display_location(*settings);
    const auto endpoint = parse_endpoint(settings->endpoint);
    if (!endpoint) __builtin_trap();  // a parsed location carries a usable endpoint
    (void)make_target(*settings, *endpoint, "data/ab/key with spaces+%", {{"list-type", "2"}});
    (void)make_target(*settings, *endpoint, "", {});
    return 0;
}
