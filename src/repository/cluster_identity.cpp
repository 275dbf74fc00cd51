#include "repository/cluster_identity.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "repository/json_reader.hpp"
#include "repository/manifest.hpp"
#include "repository/object.hpp"

namespace lifeboat::repo {

using nlohmann::json;

Result<std::optional<std::string>> read_cluster_identity(const Storage& storage) {
    const std::string key(k_cluster_identity_key);
    auto bytes = storage.read(key);
    if (!bytes) {
        if (bytes.error().code == ErrorCode::not_found) return std::optional<std::string>();
        return std::unexpected(bytes.error());
    }
    const std::string text = LB_TRY(decode_object(*bytes, ObjectKind::cluster, key));
    return std::optional<std::string>(LB_TRY(parse_cluster_identity(text, key)));
}

Result<std::string> parse_cluster_identity(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "cluster identity"));
    const JsonValue id = LB_TRY(doc.root().field("system_identifier"));
    const std::string value = LB_TRY(id.as<std::string>());
    // Decimal text of a 64-bit integer, as pg_control_system() prints it.
    if (value.empty() || value.size() > 20 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
        return std::unexpected(id.problem("not a decimal system identifier"));
    }
    return value;
}

Result<std::string> record_cluster_identity(Storage& storage,
                                            const std::string& system_identifier) {
    if (auto recorded = LB_TRY(read_cluster_identity(storage))) return *recorded;
    const json j = {{"system_identifier", system_identifier},
                    {"recorded", format_iso8601(system_clock().now())}};
    const std::string object =
        LB_TRY(encode_object(ObjectKind::cluster, j.dump(), PayloadCompression::none));
    auto written = storage.write(std::string(k_cluster_identity_key), object, Overwrite::never);
    if (!written) {
        if (written.error().code != ErrorCode::conflict) return std::unexpected(written.error());
        // Another writer recorded it first: its identifier is the repository's.
        if (auto recorded = LB_TRY(read_cluster_identity(storage))) return *recorded;
        return std::unexpected(written.error());
    }
    return system_identifier;
}

Result<std::optional<std::string>> expected_system_identifier(const Storage& storage) {
    // A damaged identity object is passed over here (verify names it, repair moves it aside).
    auto recorded = repo::read_cluster_identity(storage);
    if (!recorded && recorded.error().code != ErrorCode::corrupt)
        return std::unexpected(recorded.error());
    if (recorded && *recorded) return recorded;
    auto ids = LB_TRY(repo::list_backup_ids(storage));
    std::reverse(ids.begin(), ids.end());
    for (const auto& id : ids) {
        auto manifest = repo::read_manifest(storage, id);
        if (manifest) return std::optional<std::string>(manifest->source.system_identifier);
        if (manifest.error().code != ErrorCode::corrupt) return std::unexpected(manifest.error());
    }
    return std::optional<std::string>();
}

Error another_cluster_error(const std::string& found, const std::string& repository_holds) {
    return Error{ErrorCode::conflict,
                 fmt::format("WAL of another cluster (system identifier {}, repository holds {}); "
                             "each cluster needs its own repository",
                             found, repository_holds)};
}

}  // namespace lifeboat::repo
