#include "repository/repository.hpp"

#include <random>

#include <nlohmann/json.hpp>

#include "repository/object.hpp"
#include "storage/posix/posix_storage.hpp"
#include "util/fs.hpp"
#include "util/hex.hpp"

namespace lifeboat::repo {

using nlohmann::json;

namespace {
constexpr std::string_view k_config_key = "config";

std::string random_hex(std::size_t bytes) {
    std::random_device rd;
    std::string raw;
    while (raw.size() < bytes)
        raw.push_back(static_cast<char>(rd() & 0xff));
    return to_hex(raw);
}
}  // namespace

Result<std::unique_ptr<Storage>> open_storage(const std::string& location) {
    if (location.empty()) {
        return fail(ErrorCode::usage, "no repository given (use --repo PATH or LIFEBOAT_REPO)");
    }
    if (location.find("://") != std::string::npos) {
        return fail(ErrorCode::usage,
                    "repository '{}': only local paths are supported by this version", location);
    }
    std::error_code ec;
    fs::path path = fs::absolute(location, ec);
    return std::unique_ptr<Storage>(new PosixStorage(path.lexically_normal()));
}

Result<Repository> Repository::open(const std::string& location) {
    auto storage = LB_TRY(open_storage(location));
    std::error_code ec;
    if (fs::exists(storage->location(), ec) && !fs::is_directory(storage->location(), ec)) {
        return fail(ErrorCode::not_a_repository, "{} is a file, not a Lifeboat repository",
                    storage->location());
    }
    auto bytes = storage->read(std::string(k_config_key));
    if (!bytes) {
        if (bytes.error().code == ErrorCode::not_found) {
            if (!fs::exists(storage->location(), ec)) {
                return fail(ErrorCode::not_a_repository,
                            "repository {} does not exist (create it with `lifeboat repo-init`)",
                            storage->location());
            }
            return fail(ErrorCode::not_a_repository,
                        "{} is not a Lifeboat repository (no config object; create one with "
                        "`lifeboat repo-init`)",
                        storage->location());
        }
        return std::unexpected(bytes.error());
    }
    auto payload = decode_object(*bytes, ObjectKind::config, storage->location() + "/config");
    if (!payload) {
        return fail(ErrorCode::not_a_repository, "{} is not a usable Lifeboat repository: {}",
                    storage->location(), payload.error().message);
    }
    RepositoryConfig config;
    try {
        const json j = json::parse(*payload);
        config.repository_id = j.at("repository_id").get<std::string>();
        auto created = parse_iso8601(j.at("created").get<std::string>());
        config.created = created ? *created : Timestamp{};
        config.block_size = j.at("block_size").get<std::uint32_t>();
        config.pack_target_size = j.at("pack_target_size").get<std::uint64_t>();
        config.compression_level = j.at("compression").at("level").get<int>();
        if (!j.at("encryption").is_null()) {
            return fail(ErrorCode::not_a_repository,
                        "{} is encrypted, which this version of Lifeboat cannot read",
                        storage->location());
        }
        if (config.block_size == 0 || config.block_size % 8192 != 0) {
            return fail(ErrorCode::corrupt, "{}/config: block_size {} is not a multiple of 8192",
                        storage->location(), config.block_size);
        }
    } catch (const json::exception& e) {
        return fail(ErrorCode::corrupt, "{}/config: malformed: {}", storage->location(), e.what());
    }
    return Repository(std::move(storage), std::move(config));
}

Result<Repository> Repository::init(const std::string& location, RepositoryConfig config) {
    auto storage = LB_TRY(open_storage(location));
    const fs::path root = storage->location();
    const bool empty = LB_TRY(directory_is_empty_or_missing(root));
    if (!empty) {
        if (storage->stat(std::string(k_config_key))) {
            return fail(ErrorCode::conflict, "{} is already a Lifeboat repository", root.string());
        }
        return fail(ErrorCode::conflict,
                    "{} is not empty; a repository must be created in a new or empty directory",
                    root.string());
    }
    if (config.block_size == 0 || config.block_size % 8192 != 0) {
        return fail(ErrorCode::usage, "block size {} is not a multiple of 8192", config.block_size);
    }
    if (config.compression_level < 1 || config.compression_level > 19) {
        return fail(ErrorCode::usage, "compression level {} is outside 1..19",
                    config.compression_level);
    }
    LB_CHECK(ensure_directory(root));
    for (const char* dir : {"data", "index", "backups", "wal", "locks", "tmp"}) {
        LB_CHECK(ensure_directory(root / dir));
    }
    config.repository_id = random_hex(16);
    json j = {{"format", k_format_version},
              {"repository_id", config.repository_id},
              {"created", format_iso8601(config.created)},
              {"block_size", config.block_size},
              {"pack_target_size", config.pack_target_size},
              {"compression", {{"codec", "zstd"}, {"level", config.compression_level}}},
              {"encryption", nullptr}};
    const std::string object =
        LB_TRY(encode_object(ObjectKind::config, j.dump(2) + "\n", PayloadCompression::none));
    LB_CHECK(storage->write(std::string(k_config_key), object, Overwrite::never));
    return Repository(std::move(storage), std::move(config));
}

Status Repository::clean_stale_temporaries() {
    if (auto* posix = dynamic_cast<PosixStorage*>(m_storage.get())) {
        return posix->clean_stale_temporaries();
    }
    return {};
}

}  // namespace lifeboat::repo
