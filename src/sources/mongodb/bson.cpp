#include "sources/mongodb/bson.hpp"

#include <cstring>
#include <utility>

namespace lifeboat::mongodb {

namespace {

std::string take_json(char* text) {
    std::string out = text ? text : "";
    bson_free(text);
    return out;
}

}  // namespace

Bson::Bson() : m_doc(bson_new()) {}

Bson::~Bson() {
    if (m_doc) bson_destroy(m_doc);
}

Bson::Bson(Bson&& other) noexcept : m_doc(std::exchange(other.m_doc, bson_new())) {}

Bson& Bson::operator=(Bson&& other) noexcept {
    std::swap(m_doc, other.m_doc);
    return *this;
}

Bson Bson::copy_of(const bson_t& doc) {
    return Bson(bson_copy(&doc));
}

Result<Bson> Bson::from_bytes(std::string_view bytes) {
    if (document_length(bytes) != bytes.size()) {
        return fail(ErrorCode::corrupt, "a BSON document of {} bytes says it has {}", bytes.size(),
                    document_length(bytes));
    }
    bson_t* doc =
        bson_new_from_data(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (!doc)
        return fail(ErrorCode::corrupt, "a BSON document of {} bytes is malformed", bytes.size());
    std::size_t offset = 0;
    if (!bson_validate(doc, BSON_VALIDATE_NONE, &offset)) {
        bson_destroy(doc);
        return fail(ErrorCode::corrupt, "a BSON document is malformed at byte {}", offset);
    }
    return Bson(doc);
}

Result<Bson> Bson::from_json(std::string_view json) {
    bson_error_t error;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json.data()),
                                     static_cast<ssize_t>(json.size()), &error);
    if (!doc) return fail(ErrorCode::corrupt, "extended JSON is malformed: {}", error.message);
    return Bson(doc);
}

std::string_view Bson::bytes() const {
    return {reinterpret_cast<const char*>(bson_get_data(m_doc)), m_doc->len};
}

std::string Bson::canonical_json() const {
    return take_json(bson_as_canonical_extended_json(m_doc, nullptr));
}

std::string Bson::relaxed_json() const {
    return take_json(bson_as_relaxed_extended_json(m_doc, nullptr));
}

std::uint32_t document_length(std::string_view bytes) {
    if (bytes.size() < 4) return 0;
    std::uint32_t length = 0;
    std::memcpy(&length, bytes.data(), 4);
    length = BSON_UINT32_FROM_LE(length);
    return length < 5 ? 0 : length;
}

}  // namespace lifeboat::mongodb
