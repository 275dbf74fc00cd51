// Stores one change log object (change_log.hpp) in a repository's log area: the name and the
// framing are checked, the commit span (first/last commit time, commits) is decoded from the
// content for the object's metadata, and the object is published like a WAL file
// (repository/wal_archive.hpp: same content already there is success, different is a conflict).
// Used by the hidden `logical-push` command, which tests use to store objects they built.
#pragma once

#include <string>

#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::postgres_logical {

Result<repo::PushOutcome> push_change_log_object(repo::Repository& repository,
                                                 const std::string& name,
                                                 const std::string& content,
                                                 const OperationContext& ctx);

}  // namespace lifeboat::postgres_logical
