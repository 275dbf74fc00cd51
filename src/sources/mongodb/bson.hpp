// Bson: one owned BSON document (libbson's bson_t), moved, never copied implicitly. The bytes
// of a document are its wire form: a stream of documents is their bytes one after another, each
// starting with its own length (docs/repository-format.md, "mongodb").
#pragma once

#include "sources/mongodb/c_driver.hpp"

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace lifeboat::mongodb {

class Bson {
  public:
    Bson();  // empty document {}
    ~Bson();
    Bson(Bson&& other) noexcept;
    Bson& operator=(Bson&& other) noexcept;
    Bson(const Bson&) = delete;
    Bson& operator=(const Bson&) = delete;

    // A copy of `doc`.
    static Bson copy_of(const bson_t& doc);
    // The document whose wire form is `bytes`: ErrorCode::corrupt unless it is exactly one
    // valid document.
    static Result<Bson> from_bytes(std::string_view bytes);
    // Parses canonical or relaxed extended JSON: ErrorCode::corrupt when it is not.
    static Result<Bson> from_json(std::string_view json);

    const bson_t* get() const { return m_doc; }
    bson_t* get() { return m_doc; }
    std::string_view bytes() const;
    // Canonical extended JSON: every BSON type kept (decimal128, binary subtypes, dates).
    std::string canonical_json() const;
    // Relaxed extended JSON, for messages.
    std::string relaxed_json() const;
    Bson clone() const { return copy_of(*m_doc); }

  private:
    explicit Bson(bson_t* doc) : m_doc(doc) {}
    bson_t* m_doc;
};

// The length of the document starting at `bytes` (its first four bytes, little-endian), or 0
// when fewer than four bytes are left or the length is below BSON's minimum of 5.
std::uint32_t document_length(std::string_view bytes);

}  // namespace lifeboat::mongodb
