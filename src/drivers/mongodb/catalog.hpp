// What a mongodb backup records about its source's collections, and how their documents are laid
// out in entries (docs/repository-format.md, "mongodb payload"): shared by backup, restore and
// validate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "repository/manifest.hpp"
#include "sources/mongodb/client.hpp"
#include "util/error.hpp"

namespace lifeboat::mongodb_driver {

// Databases a backup never copies: the server's own.
bool is_system_database(std::string_view db);
// Collections a backup never copies (system.*: profiles, views' definitions, sessions).
bool is_system_collection(std::string_view name);

// The entry path of a collection's documents: "DB/NAME.bson", with '%', '/', '\\' and a leading
// '.' of NAME percent-encoded so that it is one safe path component.
std::string entry_path(std::string_view db, std::string_view collection);

// How many documents of a collection get a sample hash: at most this many, spread evenly.
inline constexpr std::uint64_t k_samples_per_collection = 16;
// Which positions (0-based, in _id order) of a collection of `count` documents are sampled.
bool is_sampled(std::uint64_t position, std::uint64_t count);

// {"_id": <the document's _id>} in canonical extended JSON; ErrorCode::corrupt without an _id.
Result<std::string> id_filter_json(const bson_t& doc);
// The SHA-256 (hex) of a document's BSON bytes.
std::string document_hash(const bson_t& doc);

// "DB.NAME" matches --only: "DB" (its every collection) or "DB.NAME"; empty matches all.
bool matches_only(const repo::MongoCollection& c, std::string_view only);

// The documents of one stored entry, whose bytes are BSON documents one after another: calls
// `each` with every document's wire form; ErrorCode::corrupt when the bytes do not divide into
// documents.
class DocumentSplitter {
  public:
    // Adds `bytes` (any piece of the stream).
    template <typename Each>
    Status add(std::string_view bytes, Each&& each) {
        m_pending.append(bytes);
        std::size_t at = 0;
        while (true) {
            const std::uint32_t length =
                mongodb::document_length(std::string_view(m_pending).substr(at));
            if (m_pending.size() - at >= 4 && length == 0)
                return fail(ErrorCode::corrupt, "a stored document has a length below 5");
            if (length == 0 || m_pending.size() - at < length) break;
            LB_CHECK(each(std::string_view(m_pending).substr(at, length)));
            at += length;
        }
        m_pending.erase(0, at);
        return {};
    }
    // After the last piece: ErrorCode::corrupt when a document was cut short.
    Status finish() const {
        if (!m_pending.empty())
            return fail(ErrorCode::corrupt, "the stored documents end {} bytes into a document",
                        m_pending.size());
        return {};
    }

  private:
    std::string m_pending;
};

}  // namespace lifeboat::mongodb_driver
