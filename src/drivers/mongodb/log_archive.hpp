// The mongodb source's log archive, first increment: change capture does not exist yet, so the
// archive holds no objects of this kind and every backup is consistent on its own and reaches no
// later time (restore --to consistent). Capture (change events stored as objects indexed by cluster
// time, with the resume token) will fill it in, following the postgres-logical archive's design.
#pragma once

#include "source/log_archive.hpp"

namespace lifeboat::mongodb_driver {

class MongoLogArchive final : public source::LogArchive {
  public:
    Result<source::RestorableWindow> follow(
        const Storage& storage, const std::vector<repo::Manifest>& manifests) const override;
    void add_branch_times(const Storage&, source::RestorableWindow&,
                          const std::vector<repo::Manifest>&) const override {}
    std::vector<std::string> objects_for(const repo::Manifest&, const source::BackupReach&,
                                         const std::vector<std::string>&) const override {
        return {};
    }
    bool is_shared(std::string_view) const override { return false; }
    // Names it cannot place are never removable: nothing is.
    Result<std::vector<std::string>> removable(const std::vector<std::string>&,
                                               const std::vector<const repo::Manifest*>&,
                                               const repo::Manifest&) const override {
        return std::vector<std::string>();
    }
    Result<source::LogObjectFacts> check_object(const Storage& storage, const std::string& name,
                                                std::string_view content) const override;
    bool is_descriptive(std::string_view) const override { return false; }
    Result<std::optional<std::string>> stop_position_at_end(
        const Storage&, const source::BackupReach&) const override {
        return std::optional<std::string>();
    }
    std::string describe_branch(std::uint32_t) const override { return "the change stream"; }
};

}  // namespace lifeboat::mongodb_driver
