#include "storage/s3/s3_http.hpp"

#include "storage/s3/curl_library.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace lifeboat::s3 {

namespace {

// libcurl's global state is initialised once, before the first handle, and never torn down
// (other threads may still be using handles at exit).
void initialise_curl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

class EasyHandle {
  public:
    EasyHandle() {
        initialise_curl();
        m_handle = curl_easy_init();
    }
    ~EasyHandle() {
        if (m_handle != nullptr) curl_easy_cleanup(m_handle);
    }
    EasyHandle(const EasyHandle&) = delete;
    EasyHandle& operator=(const EasyHandle&) = delete;
    CURL* get() const { return m_handle; }

  private:
    CURL* m_handle = nullptr;
};

struct Transfer {
    std::string_view body;
    std::size_t sent = 0;
    HttpResponse* response = nullptr;
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t n = std::min(size * count, transfer->body.size() - transfer->sent);
    std::memcpy(buffer, transfer->body.data() + transfer->sent, n);
    transfer->sent += n;
    return n;
}

// Bodies larger than this are not reserved from Content-Length ahead (they grow as they come).
constexpr std::uint64_t k_max_reserved_body = 256ull * 1024 * 1024;

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
    std::string& body = static_cast<Transfer*>(user)->response->body;
    if (body.empty()) {
        // Reserved once from Content-Length: a body grown by appending holds up to twice its
        // size, and many ranged reads in flight would hold that many times over.
        const auto length = static_cast<Transfer*>(user)->response->header("content-length");
        std::uint64_t expected = 0;
        if (length &&
            std::from_chars(length->data(), length->data() + length->size(), expected).ec ==
                std::errc() &&
            expected <= k_max_reserved_body) {
            body.reserve(expected);
        }
    }
    body.append(data, size * count);
    return size * count;
}

std::size_t write_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* response = static_cast<Transfer*>(user)->response;
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        response->headers.clear();  // a new response (after "100 Continue", say)
        return size * count;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * count;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
    response->headers.emplace_back(std::move(name), std::string(value));
    return size * count;
}

Transience transience_of(CURLcode code) {
    switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_OUT_OF_MEMORY:
        case CURLE_ABORTED_BY_CALLBACK:
            return Transience::permanent;
        default:
            return Transience::transient;
    }
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_case_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_case_name) return value;
    }
    return std::nullopt;
}

std::optional<std::int64_t> parse_http_date(const std::string& text) {
    const time_t t = curl_getdate(text.c_str(), nullptr);
    if (t == -1) return std::nullopt;
    return static_cast<std::int64_t>(t);
}

std::expected<HttpResponse, TransportError> perform(const HttpRequest& request,
                                                    const TransportOptions& options) {
    // libcurl is loaded here, at the first request: one clear error if it cannot be.
    if (auto loaded = curl_library::load(); !loaded) {
        return std::unexpected(TransportError{loaded.error().message, Transience::permanent});
    }
    thread_local EasyHandle t_handle;
    CURL* curl = t_handle.get();
    if (curl == nullptr) {
        return std::unexpected(
            TransportError{"cannot create a curl handle", Transience::permanent});
    }
    curl_easy_reset(curl);  // keeps the connection cache

    HttpResponse response;
    Transfer transfer{request.body, 0, &response};
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
        headers = curl_slist_append(headers, fmt::format("{}: {}", name, value).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");        // no 100-continue round trip
    headers = curl_slist_append(headers, "Content-Type:");  // curl's form default is wrong here
    char error[CURL_ERROR_SIZE] = {};

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.stall_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT" || request.method == "POST") {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (request.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
        return std::unexpected(
            TransportError{fmt::format("{} {}: {}", request.method, request.url,
                                       error[0] != '\0' ? error : curl_easy_strerror(code)),
                           transience_of(code)});
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace lifeboat::s3
