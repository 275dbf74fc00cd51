// The logical PostgreSQL log (source/log_archive.hpp states the contract): the change stream's
// objects "logical/<start>-<end>" (change_log.hpp), stored by capture (capture.hpp) in the
// repository's log area with their commit spans in the WAL metadata. A backup reaches from its
// consistent point (its stop LSN) along the gap-free chain of objects that starts at (or covers)
// that point (chain.hpp) to the newest commit stored in that chain; a missing object ends the
// reach. One branch (1). Every method refuses or ignores names that are not this kind's, so a
// physical WAL name is never taken for one.
#pragma once

#include "source/log_archive.hpp"

namespace lifeboat::postgres_logical {

// The prefix of every log object this kind owns.
inline constexpr std::string_view k_log_prefix = "logical/";

class LogicalLogArchive final : public source::LogArchive {
  public:
    Result<source::RestorableWindow> follow(
        const Storage& storage, const std::vector<repo::Manifest>& manifests) const override;
    void add_branch_times(const Storage& storage, source::RestorableWindow& window,
                          const std::vector<repo::Manifest>& manifests) const override;
    std::vector<std::string> objects_for(const repo::Manifest& backup,
                                         const source::BackupReach& reach,
                                         const std::vector<std::string>& archived) const override;
    bool is_shared(std::string_view name) const override;
    Result<std::vector<std::string>> removable(
        const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
        const repo::Manifest& continuous_from) const override;
    Result<source::LogObjectFacts> check_object(const Storage& storage, const std::string& name,
                                                std::string_view content) const override;
    bool is_descriptive(std::string_view name) const override;
    Result<std::optional<std::string>> stop_position_at_end(
        const Storage& storage, const source::BackupReach& reach) const override;
    std::string describe_branch(std::uint32_t id) const override;
};

}  // namespace lifeboat::postgres_logical
