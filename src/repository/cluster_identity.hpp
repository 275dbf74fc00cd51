// The cluster a repository protects (docs/repository-format.md, "CLST"): PostgreSQL's system
// identifier, recorded once by the first wal-push or backup that needs it and never replaced, so
// that WAL or backups of another cluster can be refused before they are stored.
#pragma once

#include <optional>
#include <string>

#include "storage/storage.hpp"

namespace lifeboat::repo {

inline constexpr std::string_view k_cluster_identity_key = "cluster";

// The recorded system identifier (decimal text, as pg_control_system() prints it); nullopt when
// none is recorded yet (a new repository, or one written by a version that did not record it).
Result<std::optional<std::string>> read_cluster_identity(const Storage& storage);
// Parses the payload of the cluster object (JSON, envelope already checked): "system_identifier"
// decimal digits (at most 20); ErrorCode::corrupt naming `key` otherwise. An entry point for
// fuzzing.
Result<std::string> parse_cluster_identity(std::string_view text, std::string_view key);

// Records `system_identifier` unless one is already recorded, and returns the one the repository
// holds afterwards: the caller compares it with its own. Concurrent first writers race safely (the
// object is published without replacement; the loser reads the winner's).
Result<std::string> record_cluster_identity(Storage& storage, const std::string& system_identifier);

// The identity the repository's log must carry: the recorded cluster identity (unless
// damaged), else that of its newest readable backup manifest; nullopt when neither exists.
Result<std::optional<std::string>> expected_system_identifier(const Storage& storage);

// The refusal for log objects of another source, as wal-push and verify word it.
Error another_cluster_error(const std::string& found, const std::string& repository_holds);

}  // namespace lifeboat::repo
