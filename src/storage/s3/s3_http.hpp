// One HTTP request over libcurl, nothing S3-specific: the S3 backend signs and retries around it.
// Each thread reuses its own curl easy handle (and so its connections); a handle is never shared
// between threads, so any number of threads may call perform() at once.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "storage/s3/s3_signer.hpp"

namespace lifeboat::s3 {

struct HttpRequest {
    std::string method;  // GET, HEAD, PUT, POST, DELETE
    std::string url;
    HeaderList headers;     // sent as given (a "host" header replaces curl's own)
    std::string_view body;  // sent with Content-Length for PUT and POST
};

struct HttpResponse {
    long status = 0;
    HeaderList headers;  // names in lower case
    std::string body;
    std::optional<std::string> header(std::string_view lower_case_name) const;
};

struct TransportOptions {
    std::string ca_file;
    bool verify_tls = true;
    std::chrono::seconds connect_timeout{10};
    std::chrono::seconds stall_timeout{60};
};

// A request that got no HTTP response. `transient` failures (timeouts, refused or dropped
// connections) may succeed if tried again; others (bad URL, TLS verification) will not.
enum class Transience { transient, permanent };
struct TransportError {
    std::string message;
    Transience transience = Transience::transient;
};

std::expected<HttpResponse, TransportError> perform(const HttpRequest& request,
                                                    const TransportOptions& options);

// Seconds since the epoch of an HTTP date ("Wed, 12 Oct 2009 17:50:00 GMT"); nullopt if invalid.
std::optional<std::int64_t> parse_http_date(const std::string& text);

}  // namespace lifeboat::s3
