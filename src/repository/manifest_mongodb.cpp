#include "repository/manifest_mongodb.hpp"

#include <algorithm>

namespace lifeboat::repo {

using nlohmann::json;

json mongo_payload_to_json(const MongoPayload& payload) {
    json collections = json::array();
    for (const auto& c : payload.collections) {
        json samples = json::array();
        for (const auto& s : c.samples)
            samples.push_back({{"id", s.id_json}, {"sha256", s.sha256}});
        json collection = {{"database", c.database},
                           {"name", c.name},
                           {"type", c.type},
                           {"options", c.options_json},
                           {"indexes", c.indexes_json},
                           {"path", c.path},
                           {"documents", c.documents},
                           {"samples", std::move(samples)}};
        // Written only for a split collection, so an unsplit backup's manifest is the same as
        // before ranges existed.
        if (c.ranges > 1) collection["ranges"] = c.ranges;
        collections.push_back(std::move(collection));
    }
    return {{"resume_token_start", payload.resume_token_start},
            {"resume_token_stop", payload.resume_token_stop},
            {"collections", std::move(collections)}};
}

Result<MongoPayload> mongo_payload_from_json(const JsonValue& j,
                                             const std::vector<ManifestEntry>* entries) {
    MongoPayload payload;
    payload.resume_token_start = LB_TRY(j.required<std::string>("resume_token_start"));
    payload.resume_token_stop = LB_TRY(j.required<std::string>("resume_token_stop"));
    LB_CHECK(j.for_each_in("collections", [&](const JsonValue& c) -> Status {
        MongoCollection coll;
        coll.database = LB_TRY(c.required<std::string>("database"));
        coll.name = LB_TRY(c.required<std::string>("name"));
        coll.type = LB_TRY(c.required<std::string>("type"));
        coll.options_json = LB_TRY(c.required<std::string>("options"));
        coll.indexes_json = LB_TRY(c.required<std::string>("indexes"));
        coll.path = LB_TRY(c.required<std::string>("path"));
        coll.documents = LB_TRY(c.required<std::uint64_t>("documents"));
        coll.ranges = LB_TRY(c.optional<std::uint64_t>("ranges", 1));
        LB_CHECK(c.for_each_in_optional("samples", [&](const JsonValue& s) -> Status {
            MongoSample sample;
            sample.id_json = LB_TRY(s.required<std::string>("id"));
            sample.sha256 = LB_TRY(s.required<std::string>("sha256"));
            coll.samples.push_back(std::move(sample));
            return {};
        }));
        if (coll.type != "collection" && coll.type != "view") {
            return std::unexpected(
                LB_TRY(c.field("type"))
                    .problem(fmt::format("'{}' is neither collection nor view", coll.type)));
        }
        const bool has_entry =
            entries == nullptr ||
            std::any_of(entries->begin(), entries->end(), [&](const ManifestEntry& e) {
                return e.type == EntryType::file && e.path == coll.path;
            });
        if (coll.type == "collection" && !has_entry) {
            return std::unexpected(
                LB_TRY(c.field("path"))
                    .problem(fmt::format("collection {}.{}: '{}' is not a file entry of the backup",
                                         coll.database, coll.name, coll.path)));
        }
        payload.collections.push_back(std::move(coll));
        return {};
    }));
    return payload;
}

}  // namespace lifeboat::repo
