#include "drivers/mongodb/catalog.hpp"

#include "codec/hash.hpp"

namespace lifeboat::mongodb_driver {

bool is_system_database(std::string_view db) {
    return db == "admin" || db == "local" || db == "config";
}

bool is_system_collection(std::string_view name) {
    return name.starts_with("system.");
}

std::string entry_path(std::string_view db, std::string_view collection) {
    std::string name;
    for (std::size_t i = 0; i < collection.size(); ++i) {
        const char c = collection[i];
        if (c == '%' || c == '/' || c == '\\' || (i == 0 && c == '.')) {
            name += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        } else {
            name += c;
        }
    }
    return fmt::format("{}/{}.bson", db, name);
}

bool is_sampled(std::uint64_t position, std::uint64_t count) {
    if (count <= k_samples_per_collection) return true;
    const std::uint64_t stride = count / k_samples_per_collection;
    return position % stride == 0 && position / stride < k_samples_per_collection;
}

Result<std::string> id_filter_json(const bson_t& doc) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, &doc, "_id"))
        return fail(ErrorCode::corrupt, "a document has no _id");
    bson_t filter = BSON_INITIALIZER;
    bson_append_iter(&filter, "_id", 3, &it);
    char* text = bson_as_canonical_extended_json(&filter, nullptr);
    std::string out = text ? text : "";
    bson_free(text);
    bson_destroy(&filter);
    return out;
}

std::string document_hash(const bson_t& doc) {
    return digest_hex(
        sha256(std::string_view(reinterpret_cast<const char*>(bson_get_data(&doc)), doc.len)));
}

bool matches_only(const repo::MongoCollection& c, std::string_view only) {
    if (only.empty()) return true;
    if (only == c.database) return true;
    return only == c.database + "." + c.name;
}

}  // namespace lifeboat::mongodb_driver
