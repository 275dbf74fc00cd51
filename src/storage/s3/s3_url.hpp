// Settings of an S3 repository and how they come from a location string:
//
//   s3://bucket/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1&style=path
//
// Query parameters: endpoint (scheme://host[:port], default https://s3.<region>.amazonaws.com),
// region (default AWS_REGION, AWS_DEFAULT_REGION, else us-east-1), style (path | virtual; default
// virtual for the AWS endpoint, path for any endpoint given explicitly), ca_file, verify_tls
// (true | false, default true), conditional_writes (verified | unverified, default unverified:
// see ConditionalWrites). Values may be percent-encoded. Credentials never appear in the
// location: they come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else
// from the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), profile
// AWS_PROFILE or "default".
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "storage/s3/s3_signer.hpp"
#include "util/error.hpp"

namespace lifeboat::s3 {

enum class AddressingStyle { path, virtual_hosted };
enum class TlsVerification { verify, skip };

// Whether the server is known to enforce `If-None-Match: *` atomically on PutObject (of racing
// conditional creates of one key exactly one succeeds, the others get 412). AWS S3 does, and so
// does Ceph's RADOS Gateway (tests/conformance/rgw_conformance.cpp proves it with 8 racing
// writers); s3rver and some S3-compatible servers ignore the header. Only the operator can vouch
// for a server, so this is a setting, not a probe. `verified` makes S3Storage declare
// ConditionalCreate::atomic and send creates (Overwrite::never) of up to
// k_conditional_put_limit bytes as one conditional PUT (RGW ignores the header on
// CompleteMultipartUpload, so a multipart create would not be atomic there).
enum class ConditionalWrites { unverified, verified };

// Retries of transient failures (5xx, 429, timeouts, dropped connections): attempt n waits a
// random time in [d/2, d] with d = min(base_delay * 2^(n-1), max_delay).
struct RetryPolicy {
    int max_attempts = 5;
    std::chrono::milliseconds base_delay{200};
    std::chrono::milliseconds max_delay{10'000};
};

struct Settings {
    std::string endpoint;  // scheme://host[:port], no path
    std::string region = "us-east-1";
    std::string bucket;
    std::string prefix;  // no leading or trailing '/'; "" for the whole bucket
    AddressingStyle style = AddressingStyle::path;
    Credentials credentials;
    std::string ca_file;  // empty: the system's CA bundle
    TlsVerification tls = TlsVerification::verify;
    ConditionalWrites conditional_writes = ConditionalWrites::unverified;
    RetryPolicy retry;
    std::chrono::seconds connect_timeout{10};
    // A request is abandoned (and retried) when it moves fewer than 1 byte/s for this long.
    std::chrono::seconds stall_timeout{60};
};

// Looks up an environment variable; tests pass their own.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

// True for "s3://..." locations.
bool is_s3_location(std::string_view location);

// Parses a location and resolves region, endpoint and credentials (ErrorCode::usage for a bad
// location, ErrorCode::config for missing or unreadable credentials).
Result<Settings> parse_location(std::string_view location, const Environment& environment);

// "s3://bucket/prefix", for messages.
std::string display_location(const Settings& settings);

struct Endpoint {
    std::string scheme;     // "http" or "https"
    std::string authority;  // "host" or "host:port"
};
Result<Endpoint> parse_endpoint(std::string_view url);

// Where a request goes: the URL to send (with the query), the Host header and the canonical URI
// to sign. An empty key addresses the bucket itself.
struct Target {
    std::string url;
    std::string host;
    std::string canonical_uri;
};
Target make_target(const Settings& settings, const Endpoint& endpoint, std::string_view key,
                   const HeaderList& query);

std::string percent_decode(std::string_view text);

}  // namespace lifeboat::s3
