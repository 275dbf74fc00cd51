// AWS Signature Version 4 for S3 requests, written against the published algorithm (and tested
// against AWS's own test vectors in tests/unit/s3_signer_test.cpp) rather than taken from an SDK.
// Pure functions: no I/O, no clock; the caller passes the request time.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/time.hpp"

namespace lifeboat::s3 {

struct Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token;  // empty unless temporary credentials
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What SigV4 covers. `canonical_uri` is the already URI-encoded path exactly as sent ("/b/k%20x");
// `query` holds decoded names and values; `headers` must include "host" and "x-amz-date" (names
// in any case, values as sent). Every header listed is signed.
struct SigningInput {
    std::string method;
    std::string canonical_uri;
    HeaderList query;
    HeaderList headers;
    std::string payload_hash;  // hex SHA-256 of the body (or "UNSIGNED-PAYLOAD")
    std::string region;
    std::string service = "s3";
};

struct Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
    std::string signature;       // 64 hex digits
    std::string authorization;   // the Authorization header value
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
// everything else becomes %XX (upper case); '/' stays only with SlashHandling::keep.
enum class SlashHandling { keep, encode };
std::string uri_encode(std::string_view text, SlashHandling slashes);

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

// "20150830T123600Z" and "20150830".
std::string amz_date(Timestamp t);
std::string amz_day(Timestamp t);

// The query string as sent and as canonicalised: sorted by name then value, both encoded.
std::string canonical_query(const HeaderList& query);

// `date` is the x-amz-date value ("20150830T123600Z"); its first 8 characters give the scope.
Signature sign(const SigningInput& input, const Credentials& credentials, std::string_view date);

}  // namespace lifeboat::s3
