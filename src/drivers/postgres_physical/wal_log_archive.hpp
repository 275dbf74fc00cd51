// The physical PostgreSQL log: WAL segments, .partial files, timeline histories and backup
// history files, archived by `wal-push` (source/log_archive.hpp states the contract).
#pragma once

#include "source/log_archive.hpp"

namespace lifeboat::postgres_physical {

using source::BackupReach;
using source::RestorableWindow;
using source::TimelineWindow;

class WalLogArchive final : public source::LogArchive {
  public:
    Result<RestorableWindow> follow(const Storage& storage,
                                    const std::vector<repo::Manifest>& manifests) const override;
    void add_branch_times(const Storage& storage, RestorableWindow& window,
                          const std::vector<repo::Manifest>& manifests) const override;
    std::vector<std::string> objects_for(const repo::Manifest& backup, const BackupReach& reach,
                                         const std::vector<std::string>& archived) const override;
    bool is_shared(std::string_view name) const override;
    Result<std::vector<std::string>> removable(
        const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
        const repo::Manifest& continuous_from) const override;
    Result<source::LogObjectFacts> check_object(const Storage& storage, const std::string& name,
                                                std::string_view content) const override;
    bool is_descriptive(std::string_view name) const override;
    Result<std::optional<std::string>> stop_position_at_end(
        const Storage& storage, const BackupReach& reach) const override;
    std::string describe_branch(std::uint32_t id) const override;
};

}  // namespace lifeboat::postgres_physical
