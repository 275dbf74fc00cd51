// The drivers a program is built with, by kind. Filled once at start-up by the program's wiring
// (cli/wiring.cpp; the agent's later), before any operation runs; read-only afterwards, so
// lookups need no lock.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "repository/manifest.hpp"
#include "source/driver.hpp"
#include "util/error.hpp"

namespace lifeboat::source {

// Adds `driver` (a second driver of the same kind replaces the first). Not thread safe: call
// before starting operations.
void register_driver(std::unique_ptr<SourceDriver> driver);

// The driver of `kind`; ErrorCode::config ("this Lifeboat has no driver for source kind X")
// when none is registered.
Result<const SourceDriver*> driver_for(std::string_view kind);

// The driver for a repository's backups: the kind their manifests name (a repository holds one
// source, hence one kind; ErrorCode::corrupt when they disagree), postgres-physical when there
// are none yet.
Result<const SourceDriver*> driver_for(const std::vector<repo::Manifest>& manifests);

}  // namespace lifeboat::source
