#include "engine/catalog.hpp"

#include "repository/repository.hpp"

namespace lifeboat::engine {

Result<Catalog> load_catalog(const std::string& repository) {
    repo::Repository repo = LB_TRY(repo::Repository::open(repository));
    Catalog catalog;
    catalog.repository = repo.location();
    catalog.backups = LB_TRY(repo::read_all_manifests(repo.storage()));
    catalog.window = LB_TRY(compute_window(repo.storage(), catalog.backups));
    return catalog;
}

}  // namespace lifeboat::engine
