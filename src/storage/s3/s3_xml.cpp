#include "storage/s3/s3_xml.hpp"

#include <charconv>
#include <limits>
#include <memory>

#include "storage/s3/expat_library.hpp"
#include "util/markup.hpp"

namespace lifeboat::s3 {

namespace {

constexpr std::size_t k_max_depth = 64;

std::string_view local_name(std::string_view name) {
    const auto colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// Builds the element tree from expat's callbacks.
struct TreeBuilder {
    XML_Parser parser = nullptr;
    std::optional<XmlElement> root;
    std::vector<XmlElement*> open;  // the path from the root to the current element
    std::string refusal;            // why the builder stopped the parser, if it did

    void stop(std::string why) {
        if (refusal.empty()) refusal = std::move(why);
        XML_StopParser(parser, XML_FALSE);
    }

    static void on_start(void* self_ptr, const XML_Char* name, const XML_Char** /*attributes*/) {
        auto& self = *static_cast<TreeBuilder*>(self_ptr);
        if (self.open.size() >= k_max_depth) {
            self.stop("elements nested too deeply");
            return;
        }
        XmlElement element{std::string(local_name(name)), {}, {}};
        if (self.open.empty()) {
            self.root = std::move(element);
            self.open.push_back(&*self.root);
        } else {
            auto& siblings = self.open.back()->children;
            siblings.push_back(std::move(element));
            self.open.push_back(&siblings.back());
        }
    }
    static void on_end(void* self_ptr, const XML_Char* /*name*/) {
        auto& self = *static_cast<TreeBuilder*>(self_ptr);
        if (!self.open.empty()) self.open.pop_back();
    }
    static void on_text(void* self_ptr, const XML_Char* text, int length) {
        auto& self = *static_cast<TreeBuilder*>(self_ptr);
        if (!self.open.empty())
            self.open.back()->text.append(text, static_cast<std::size_t>(length));
    }
    static void on_doctype(void* self_ptr, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        static_cast<TreeBuilder*>(self_ptr)->stop("a document type declaration");
    }
};

struct ParserDeleter {
    void operator()(XML_ParserStruct* parser) const { XML_ParserFree(parser); }
};

Result<std::uint64_t> parse_size(const std::string& text, const std::string& key) {
    std::uint64_t size = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return fail(ErrorCode::corrupt, "S3 list: bad <Size> '{}' for {}", text, key);
    }
    return size;
}

}  // namespace

const XmlElement* XmlElement::child(std::string_view child_name) const {
    for (const auto& c : children) {
        if (c.name == child_name) return &c;
    }
    return nullptr;
}

std::vector<const XmlElement*> XmlElement::children_named(std::string_view child_name) const {
    std::vector<const XmlElement*> out;
    for (const auto& c : children) {
        if (c.name == child_name) out.push_back(&c);
    }
    return out;
}

const XmlElement* XmlElement::find(std::string_view element_name) const {
    if (name == element_name) return this;
    for (const auto& c : children) {
        if (const XmlElement* found = c.find(element_name)) return found;
    }
    return nullptr;
}

std::string xml_escape(std::string_view text) {
    return escape_markup(text);
}

Result<XmlElement> parse_xml(std::string_view xml) {
    if (xml.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        return fail(ErrorCode::corrupt, "S3 XML: document too large");
    LB_TRY(expat_library::load());  // loaded here, at the first document: one clear error
    std::unique_ptr<XML_ParserStruct, ParserDeleter> parser(XML_ParserCreate("UTF-8"));
    if (!parser) return fail(ErrorCode::internal, "cannot create an XML parser");
    TreeBuilder builder;
    builder.parser = parser.get();
    XML_SetUserData(parser.get(), &builder);
    XML_SetElementHandler(parser.get(), &TreeBuilder::on_start, &TreeBuilder::on_end);
    XML_SetCharacterDataHandler(parser.get(), &TreeBuilder::on_text);
    XML_SetStartDoctypeDeclHandler(parser.get(), &TreeBuilder::on_doctype);
    // The whole body at once, marked final: a document cut short is an error, not a prefix.
    const XML_Status status =
        XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), XML_TRUE);
    if (!builder.refusal.empty())
        return fail(ErrorCode::corrupt, "S3 XML: refused {}", builder.refusal);
    if (status != XML_STATUS_OK || !builder.root) {
        return fail(ErrorCode::corrupt, "S3 XML: {} at line {}, column {}",
                    XML_ErrorString(XML_GetErrorCode(parser.get())),
                    XML_GetCurrentLineNumber(parser.get()),
                    XML_GetCurrentColumnNumber(parser.get()));
    }
    return std::move(*builder.root);
}

Result<std::optional<std::string>> xml_first_text(std::string_view xml, std::string_view name) {
    const XmlElement root = LB_TRY(parse_xml(xml));
    const XmlElement* found = root.find(name);
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(found->text);
}

Result<ListPage> parse_list_objects(std::string_view xml) {
    auto parsed = parse_xml(xml);
    if (!parsed) return std::unexpected(parsed.error().context("S3 list"));
    const XmlElement& root = *parsed;
    if (root.name != "ListBucketResult") {
        return fail(ErrorCode::corrupt, "S3 list: not a ListBucketResult document (<{}>)",
                    root.name);
    }
    ListPage page;
    for (const XmlElement* contents : root.children_named("Contents")) {
        const XmlElement* key = contents->child("Key");
        if (!key) return fail(ErrorCode::corrupt, "S3 list: an object without <Key>");
        const XmlElement* size = contents->child("Size");
        if (!size) return fail(ErrorCode::corrupt, "S3 list: no <Size> for {}", key->text);
        ListedObject object;
        object.key = key->text;
        object.size = LB_TRY(parse_size(size->text, object.key));
        if (const XmlElement* modified = contents->child("LastModified")) {
            auto when = parse_iso8601(modified->text);
            if (when) object.modified = *when;
        }
        page.objects.push_back(std::move(object));
    }
    const XmlElement* truncated = root.child("IsTruncated");
    page.truncated = truncated && truncated->text == "true";
    if (page.truncated) {
        const XmlElement* token = root.child("NextContinuationToken");
        if (!token || token->text.empty()) {
            return fail(ErrorCode::corrupt, "S3 list: truncated page without a continuation token");
        }
        page.next_continuation_token = token->text;
    }
    return page;
}

Result<UploadsPage> parse_list_multipart_uploads(std::string_view xml) {
    auto parsed = parse_xml(xml);
    if (!parsed) return std::unexpected(parsed.error().context("S3 upload list"));
    const XmlElement& root = *parsed;
    if (root.name != "ListMultipartUploadsResult") {
        return fail(ErrorCode::corrupt,
                    "S3 upload list: not a ListMultipartUploadsResult document (<{}>)", root.name);
    }
    UploadsPage page;
    for (const XmlElement* upload : root.children_named("Upload")) {
        const XmlElement* key = upload->child("Key");
        const XmlElement* id = upload->child("UploadId");
        const XmlElement* initiated = upload->child("Initiated");
        if (!key || !id || id->text.empty() || !initiated) {
            return fail(ErrorCode::corrupt,
                        "S3 upload list: an upload without <Key>, <UploadId> or <Initiated>");
        }
        auto when = parse_iso8601(initiated->text);
        if (!when) {
            return fail(ErrorCode::corrupt, "S3 upload list: {}: bad <Initiated> '{}'", key->text,
                        initiated->text);
        }
        page.uploads.push_back({key->text, id->text, *when});
    }
    const XmlElement* truncated = root.child("IsTruncated");
    page.truncated = truncated && truncated->text == "true";
    if (page.truncated) {
        const XmlElement* key_marker = root.child("NextKeyMarker");
        const XmlElement* id_marker = root.child("NextUploadIdMarker");
        if (!key_marker || key_marker->text.empty()) {
            return fail(ErrorCode::corrupt, "S3 upload list: truncated page without a key marker");
        }
        page.next_key_marker = key_marker->text;
        page.next_upload_id_marker = id_marker ? id_marker->text : std::string();
    }
    return page;
}

std::optional<ErrorBody> parse_error(std::string_view xml) {
    auto parsed = parse_xml(xml);
    if (!parsed) return std::nullopt;
    const XmlElement* error = parsed->find("Error");
    if (!error) return std::nullopt;
    ErrorBody body;
    if (const XmlElement* code = error->child("Code")) body.code = code->text;
    if (const XmlElement* message = error->child("Message")) body.message = message->text;
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
