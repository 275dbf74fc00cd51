#include "source/registry.hpp"

#include <map>
#include <string>

namespace lifeboat::source {

namespace {
std::map<std::string, std::unique_ptr<SourceDriver>, std::less<>>& drivers() {
    static std::map<std::string, std::unique_ptr<SourceDriver>, std::less<>> registered;
    return registered;
}
}  // namespace

void register_driver(std::unique_ptr<SourceDriver> driver) {
    std::string kind(driver->kind());
    drivers()[kind] = std::move(driver);
}

Result<const SourceDriver*> driver_for(std::string_view kind) {
    const auto& all = drivers();
    const auto it = all.find(kind);
    if (it == all.end()) {
        return fail(ErrorCode::config,
                    "this Lifeboat has no driver for source kind '{}' (a newer version wrote "
                    "these backups?)",
                    kind);
    }
    return it->second.get();
}

Result<const SourceDriver*> driver_for(const std::vector<repo::Manifest>& manifests) {
    if (manifests.empty()) return driver_for(repo::k_kind_postgres_physical);
    const std::string& kind = manifests.front().source.kind;
    for (const auto& m : manifests) {
        if (m.source.kind != kind) {
            return fail(ErrorCode::corrupt,
                        "backups {} ({}) and {} ({}) are of different source kinds; a repository "
                        "holds one source",
                        manifests.front().id, kind, m.id, m.source.kind);
        }
    }
    return driver_for(kind);
}

}  // namespace lifeboat::source
