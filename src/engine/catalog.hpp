// The catalog: what `list` shows — every backup with its reach, and the restorable window.
#pragma once

#include <string>
#include <vector>

#include "engine/window.hpp"
#include "repository/manifest.hpp"

namespace lifeboat::engine {

struct Catalog {
    std::string repository;
    std::vector<repo::Manifest> backups;  // oldest first
    RestorableWindow window;              // window.backups[i] belongs to backups[i]
};

Result<Catalog> load_catalog(const std::string& repository);

}  // namespace lifeboat::engine
