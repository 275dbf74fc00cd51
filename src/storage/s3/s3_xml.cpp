#include "storage/s3/s3_xml.hpp"

#include <charconv>

namespace lifeboat::s3 {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
        out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
}

Result<std::string> required_text(std::string_view xml, std::string_view name,
                                  std::string_view what) {
    auto text = LB_TRY(xml_first_text(xml, name));
    if (!text) return fail(ErrorCode::corrupt, "S3 {}: no <{}> element", what, name);
    return std::move(*text);
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

Result<std::string> xml_unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '&') {
            out.push_back(text[i]);
            continue;
        }
        const auto end = text.find(';', i);
        if (end == std::string_view::npos) {
            return fail(ErrorCode::corrupt, "S3 XML: unterminated entity in '{}'", text);
        }
        const std::string_view entity = text.substr(i + 1, end - i - 1);
        if (entity == "amp")
            out.push_back('&');
        else if (entity == "lt")
            out.push_back('<');
        else if (entity == "gt")
            out.push_back('>');
        else if (entity == "quot")
            out.push_back('"');
        else if (entity == "apos")
            out.push_back('\'');
        else if (entity.size() > 1 && entity[0] == '#') {
            const bool hex = entity[1] == 'x' || entity[1] == 'X';
            const std::string_view digits = entity.substr(hex ? 2 : 1);
            std::uint32_t cp = 0;
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
            if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
                cp > 0x10ffff) {
                return fail(ErrorCode::corrupt, "S3 XML: bad character reference '&{};'", entity);
            }
            append_utf8(out, cp);
        } else {
            return fail(ErrorCode::corrupt, "S3 XML: unknown entity '&{};'", entity);
        }
        i = end;
    }
    return out;
}

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view name) {
    std::vector<std::string_view> out;
    const std::string open = "<" + std::string(name);
    const std::string close = "</" + std::string(name) + ">";
    std::size_t at = 0;
    while ((at = xml.find(open, at)) != std::string_view::npos) {
        const std::size_t after_name = at + open.size();
        if (after_name >= xml.size()) break;
        const char next = xml[after_name];
        if (next != '>' && next != ' ' && next != '/' && next != '\t' && next != '\n' &&
            next != '\r') {
            at = after_name;  // a longer name that starts the same ("<KeyCount" for "<Key")
            continue;
        }
        const std::size_t tag_end = xml.find('>', after_name);
        if (tag_end == std::string_view::npos) break;
        if (xml[tag_end - 1] == '/') {
            out.emplace_back();
            at = tag_end + 1;
            continue;
        }
        const std::size_t content = tag_end + 1;
        const std::size_t end = xml.find(close, content);
        if (end == std::string_view::npos) break;
        out.push_back(xml.substr(content, end - content));
        at = end + close.size();
    }
    return out;
}

Result<std::optional<std::string>> xml_first_text(std::string_view xml, std::string_view name) {
    const auto found = xml_elements(xml, name);
    if (found.empty()) return std::optional<std::string>();
    return std::optional<std::string>(LB_TRY(xml_unescape(found.front())));
}

Result<ListPage> parse_list_objects(std::string_view xml) {
    if (xml.find("<ListBucketResult") == std::string_view::npos) {
        return fail(ErrorCode::corrupt, "S3 list: not a ListBucketResult document");
    }
    ListPage page;
    for (const std::string_view contents : xml_elements(xml, "Contents")) {
        ListedObject object;
        object.key = LB_TRY(required_text(contents, "Key", "list"));
        const std::string size = LB_TRY(required_text(contents, "Size", "list"));
        const auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), object.size);
        if (size.empty() || ec != std::errc() || ptr != size.data() + size.size()) {
            return fail(ErrorCode::corrupt, "S3 list: bad <Size> '{}' for {}", size, object.key);
        }
        if (auto modified = LB_TRY(xml_first_text(contents, "LastModified"))) {
            auto parsed = parse_iso8601(*modified);
            if (parsed) object.modified = *parsed;
        }
        page.objects.push_back(std::move(object));
    }
    // <IsTruncated> of the result, not of an object (objects have none).
    auto truncated = LB_TRY(xml_first_text(xml, "IsTruncated"));
    page.truncated = truncated && *truncated == "true";
    if (page.truncated) {
        auto token = LB_TRY(xml_first_text(xml, "NextContinuationToken"));
        if (!token || token->empty()) {
            return fail(ErrorCode::corrupt, "S3 list: truncated page without a continuation token");
        }
        page.next_continuation_token = std::move(*token);
    }
    return page;
}

std::optional<ErrorBody> parse_error(std::string_view xml) {
    const auto errors = xml_elements(xml, "Error");
    if (errors.empty()) return std::nullopt;
    ErrorBody body;
    auto code = xml_first_text(errors.front(), "Code");
    if (code && *code) body.code = **code;
    auto message = xml_first_text(errors.front(), "Message");
    if (message && *message) body.message = **message;
    return body;
}

std::string complete_multipart_body(const std::vector<std::string>& etags) {
    std::string out = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < etags.size(); ++i) {
        out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
               xml_escape(etags[i]) + "</ETag></Part>";
    }
    return out + "</CompleteMultipartUpload>";
}

}  // namespace lifeboat::s3
