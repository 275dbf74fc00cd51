#include "storage/s3/s3_url.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "util/fs.hpp"

namespace lifeboat::s3 {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

// Region and bucket become part of a host name (the AWS endpoint, virtual-hosted addressing)
// and of the signed credential scope, so they are held to the characters those allow: a region
// of "x@evil.example#" must not redirect requests, nor a control byte reach a header.
bool is_name_text(std::string_view text) {
    return !text.empty() && text.size() <= 255 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

std::string strip_slashes(std::string_view text) {
    while (!text.empty() && text.front() == '/')
        text.remove_prefix(1);
    while (!text.empty() && text.back() == '/')
        text.remove_suffix(1);
    return std::string(text);
}

// Reads one profile of an AWS shared credentials file (INI: "[name]" then "key = value").
Result<std::optional<Credentials>> read_credentials_file(const std::string& path,
                                                         const std::string& profile) {
    std::ifstream in(path);
    if (!in) return std::optional<Credentials>();
    Credentials credentials;
    bool in_profile = false;
    std::string line;
    while (std::getline(in, line)) {
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#' || text.front() == ';') continue;
        if (text.front() == '[') {
            in_profile = text.back() == ']' && trim(text.substr(1, text.size() - 2)) == profile;
            continue;
        }
        if (!in_profile) continue;
        const auto eq = text.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view name = trim(text.substr(0, eq));
        const std::string value(trim(text.substr(eq + 1)));
        if (name == "aws_access_key_id")
            credentials.access_key = value;
        else if (name == "aws_secret_access_key")
            credentials.secret_key = value;
        else if (name == "aws_session_token")
            credentials.session_token = value;
    }
    if (credentials.access_key.empty() && credentials.secret_key.empty()) {
        return std::optional<Credentials>();
    }
    if (credentials.access_key.empty() || credentials.secret_key.empty()) {
        return fail(ErrorCode::config, "{}: profile [{}] lacks {}", path, profile,
                    credentials.access_key.empty() ? "aws_access_key_id" : "aws_secret_access_key");
    }
    return std::optional<Credentials>(std::move(credentials));
}

Result<Credentials> resolve_credentials(const Environment& env) {
    auto key = env("AWS_ACCESS_KEY_ID");
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (key && secret && !key->empty() && !secret->empty()) {
        return Credentials{*key, *secret, env("AWS_SESSION_TOKEN").value_or("")};
    }
    std::string path;
    if (auto file = env("AWS_SHARED_CREDENTIALS_FILE"); file && !file->empty()) {
        path = *file;
    } else if (auto home = env("HOME"); home && !home->empty()) {
        path = *home + "/.aws/credentials";
    }
    const std::string profile = env("AWS_PROFILE").value_or("default");
    if (!path.empty()) {
        auto found = LB_TRY(read_credentials_file(path, profile.empty() ? "default" : profile));
        if (found) return std::move(*found);
    }
    return fail(ErrorCode::config,
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                "profile [{}] to {}",
                profile, path.empty() ? "~/.aws/credentials" : path);
}

}  // namespace

Environment process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

bool is_s3_location(std::string_view location) {
    return location.starts_with("s3://");
}

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

Result<Endpoint> parse_endpoint(std::string_view url) {
    const auto colon = url.find("://");
    Endpoint endpoint;
    if (colon != std::string_view::npos) endpoint.scheme = std::string(url.substr(0, colon));
    if (endpoint.scheme != "http" && endpoint.scheme != "https") {
        return fail(ErrorCode::usage, "S3 endpoint '{}' must start with http:// or https://", url);
    }
    std::string_view rest = url.substr(colon + 3);
    while (!rest.empty() && rest.back() == '/')
        rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
        return fail(ErrorCode::usage, "S3 endpoint '{}' must be scheme://host[:port], no path",
                    url);
    }
    endpoint.authority = std::string(rest);
    return endpoint;
}

Result<Settings> parse_location(std::string_view location, const Environment& env) {
    if (!is_s3_location(location)) {
        return fail(ErrorCode::usage, "'{}' is not an s3:// location", location);
    }
    std::string_view rest = location.substr(5);
    std::string_view query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    Settings settings;
    const auto slash = rest.find('/');
    settings.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) settings.prefix = strip_slashes(rest.substr(slash + 1));
    if (settings.bucket.empty()) {
        return fail(ErrorCode::usage, "'{}': no bucket (expected s3://bucket/prefix)", location);
    }
    if (!is_name_text(settings.bucket)) {
        return fail(ErrorCode::usage,
                    "'{}': bucket '{}' may hold only letters, digits, '-', '_' and '.'", location,
                    settings.bucket);
    }
    if (settings.prefix.find("..") != std::string::npos ||
        settings.prefix.find("//") != std::string::npos) {
        return fail(ErrorCode::usage, "'{}': invalid prefix '{}'", location, settings.prefix);
    }
    std::optional<std::string> endpoint, region, style;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        const std::string value =
            eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
        if (name == "endpoint")
            endpoint = value;
        else if (name == "region")
            region = value;
        else if (name == "style")
            style = value;
        else if (name == "ca_file")
            settings.ca_file = value;
        else if (name == "verify_tls") {
            if (value != "true" && value != "false") {
                return fail(ErrorCode::usage, "'{}': verify_tls must be true or false", location);
            }
            settings.tls = value == "true" ? TlsVerification::verify : TlsVerification::skip;
        } else if (name == "conditional_writes") {
            if (value != "verified" && value != "unverified") {
                return fail(ErrorCode::usage,
                            "'{}': conditional_writes must be verified or unverified", location);
            }
            settings.conditional_writes =
                value == "verified" ? ConditionalWrites::verified : ConditionalWrites::unverified;
        } else {
            return fail(ErrorCode::usage,
                        "'{}': unknown parameter '{}' (known: endpoint, region, style, ca_file, "
                        "verify_tls, conditional_writes)",
                        location, name);
        }
    }
    if (!region) region = env("AWS_REGION");
    if (!region || region->empty()) region = env("AWS_DEFAULT_REGION");
    settings.region = region && !region->empty() ? *region : "us-east-1";
    if (!is_name_text(settings.region)) {
        return fail(ErrorCode::usage,
                    "'{}': region '{}' may hold only letters, digits, '-', '_' and '.'", location,
                    settings.region);
    }
    if (endpoint) {
        LB_CHECK(parse_endpoint(*endpoint));
        settings.endpoint = *endpoint;
        while (settings.endpoint.ends_with('/'))
            settings.endpoint.pop_back();
        settings.style = AddressingStyle::path;
    } else {
        settings.endpoint = "https://s3." + settings.region + ".amazonaws.com";
        settings.style = AddressingStyle::virtual_hosted;
    }
    if (style) {
        if (*style == "path")
            settings.style = AddressingStyle::path;
        else if (*style == "virtual")
            settings.style = AddressingStyle::virtual_hosted;
        else
            return fail(ErrorCode::usage, "'{}': style must be path or virtual", location);
    }
    settings.credentials = LB_TRY(resolve_credentials(env));
    return settings;
}

std::string display_location(const Settings& settings) {
    return "s3://" + settings.bucket + (settings.prefix.empty() ? "" : "/" + settings.prefix);
}

Target make_target(const Settings& settings, const Endpoint& endpoint, std::string_view key,
                   const HeaderList& query) {
    Target target;
    const std::string encoded_key = uri_encode(key, SlashHandling::keep);
    if (settings.style == AddressingStyle::path) {
        target.host = endpoint.authority;
        target.canonical_uri = "/" + uri_encode(settings.bucket, SlashHandling::encode);
        if (!key.empty()) target.canonical_uri += "/" + encoded_key;
    } else {
        target.host = settings.bucket + "." + endpoint.authority;
        target.canonical_uri = "/" + encoded_key;
    }
    target.url = endpoint.scheme + "://" + target.host + target.canonical_uri;
    if (!query.empty()) target.url += "?" + canonical_query(query);
    return target;
}

}  // namespace lifeboat::s3
