// The "mongodb" payload of a manifest (docs/repository-format.md, "mongodb payload"); used by
// manifest.cpp only.
#pragma once

#include <nlohmann/json.hpp>

#include "repository/json_reader.hpp"
#include "repository/manifest.hpp"

namespace lifeboat::repo {

nlohmann::json mongo_payload_to_json(const MongoPayload& payload);
// Checks that every collection's path is a file entry of `entries` (views have none); not when
// `entries` is null (a header read, the entries skipped).
Result<MongoPayload> mongo_payload_from_json(const JsonValue& j,
                                             const std::vector<ManifestEntry>* entries);

}  // namespace lifeboat::repo
