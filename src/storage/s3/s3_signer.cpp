#include "storage/s3/s3_signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "util/hex.hpp"

namespace lifeboat::s3 {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Header values are trimmed and inner runs of spaces folded to one, as SigV4 requires.
std::string trim_value(std::string_view value) {
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

std::tm utc_parts(Timestamp t) {
    const std::time_t seconds = static_cast<std::time_t>(t.micros / 1'000'000);
    std::tm parts{};
    ::gmtime_r(&seconds, &parts);
    return parts;
}

}  // namespace

std::string uri_encode(std::string_view text, SlashHandling slashes) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (c == '/' && slashes == SlashHandling::keep)) {
            out.push_back(static_cast<char>(c));
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    return to_hex(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string amz_date(Timestamp t) {
    const std::tm p = utc_parts(t);
    return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", p.tm_year + 1900, p.tm_mon + 1,
                       p.tm_mday, p.tm_hour, p.tm_min, p.tm_sec);
}

std::string amz_day(Timestamp t) {
    return amz_date(t).substr(0, 8);
}

std::string canonical_query(const HeaderList& query) {
    std::vector<std::pair<std::string, std::string>> encoded;
    for (const auto& [name, value] : query) {
        encoded.emplace_back(uri_encode(name, SlashHandling::encode),
                             uri_encode(value, SlashHandling::encode));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) out.push_back('&');
        out += name + "=" + value;
    }
    return out;
}

Signature sign(const SigningInput& input, const Credentials& credentials, std::string_view date) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : input.headers) {
        headers.emplace_back(lower(name), trim_value(value));
    }
    std::stable_sort(headers.begin(), headers.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string canonical_headers;
    Signature out;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        // Repeated names are joined with commas, in the order given.
        if (i > 0 && headers[i].first == headers[i - 1].first) {
            canonical_headers.pop_back();  // the '\n'
            canonical_headers += "," + headers[i].second + "\n";
            continue;
        }
        canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
        if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
        out.signed_headers += headers[i].first;
    }
    out.canonical_request = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", input.method, input.canonical_uri,
                                        canonical_query(input.query), canonical_headers,
                                        out.signed_headers, input.payload_hash);
    const std::string day(date.substr(0, 8));
    const std::string scope =
        fmt::format("{}/{}/{}/aws4_request", day, input.region, input.service);
    out.string_to_sign =
        fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", date, scope, sha256_hex(out.canonical_request));
    std::string key = hmac_sha256("AWS4" + credentials.secret_key, day);
    key = hmac_sha256(key, input.region);
    key = hmac_sha256(key, input.service);
    key = hmac_sha256(key, "aws4_request");
    out.signature = to_hex(hmac_sha256(key, out.string_to_sign));
    out.authorization =
        fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                    credentials.access_key, scope, out.signed_headers, out.signature);
    return out;
}

}  // namespace lifeboat::s3
