// wal-push and wal-fetch: the two halves of continuous archiving. PostgreSQL calls them through
// archive_command ('lifeboat wal-push %p') and restore_command ('lifeboat wal-fetch %f %p').
#pragma once

#include <string>

#include "repository/wal_archive.hpp"
#include "util/fs.hpp"

namespace lifeboat::engine {

// Archives the file at `path` (relative paths are relative to the working directory, which is
// the data directory when PostgreSQL runs archive_command). Segments are scanned for commit
// timestamps, which bound the restorable window.
Result<repo::PushOutcome> wal_push(const std::string& repository, const fs::path& path);

// Restores archived file `name` to `destination` atomically. ErrorCode::not_found when the
// archive does not have it (PostgreSQL then ends recovery); ErrorCode::corrupt when it is damaged.
Status wal_fetch(const std::string& repository, const std::string& name,
                 const fs::path& destination);

}  // namespace lifeboat::engine
