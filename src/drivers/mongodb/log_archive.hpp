// The mongodb source's log (source/log_archive.hpp states the contract): the change stream's
// objects "changes/<start>-<end>" and gaps "changes/<start>-<start>.gap" (change_log.hpp),
// stored by capture (capture.hpp) in the repository's log area with their event-time spans in the
// WAL metadata (first/last event time: wallTime, else the cluster time's seconds).
//
// A backup's start point is the cluster time of the resume token recorded before its dump
// (backup_start_position); it reaches from its stop time along the chain of objects starting at
// (or covering) that point (change_log.hpp, follow_chain) to the newest event stored in the
// chain. A gap object ends the chain and is shown as the window's gap (first_missing_segment
// names it); so does a hole (a missing object with later ones stored). One branch (1). Names
// that are not this kind's are never taken for one.
#pragma once

#include <cstdint>
#include <optional>

#include "source/log_archive.hpp"

namespace lifeboat::mongodb_driver {

// Where the change stream stood when the dump of `backup` began: the cluster time of its
// recorded start token, or, for a token whose form does not tell it (not MongoDB 4.2+), its start
// time's seconds. nullopt when the backup recorded no token (a server without change streams):
// no log continues it.
std::optional<std::uint64_t> backup_start_position(const repo::Manifest& backup);

class MongoLogArchive final : public source::LogArchive {
  public:
    Result<source::RestorableWindow> follow(
        const Storage& storage, const std::vector<repo::Manifest>& manifests) const override;
    void add_branch_times(const Storage&, source::RestorableWindow&,
                          const std::vector<repo::Manifest>&) const override {}
    std::vector<std::string> objects_for(const repo::Manifest& backup,
                                         const source::BackupReach& reach,
                                         const std::vector<std::string>& archived) const override;
    bool is_shared(std::string_view) const override { return false; }
    // Objects ending at or before the earliest start point of the kept backups and of
    // continuous recovery's first backup; gaps before it too.
    Result<std::vector<std::string>> removable(
        const std::vector<std::string>& archived, const std::vector<const repo::Manifest*>& kept,
        const repo::Manifest& continuous_from) const override;
    // Framing, kinds, every event inside the name's span, a gap object holding a gap record.
    Result<source::LogObjectFacts> check_object(const Storage& storage, const std::string& name,
                                                std::string_view content) const override;
    bool is_descriptive(std::string_view) const override { return false; }
    // A time target is enough: events are applied up to it.
    Result<std::optional<std::string>> stop_position_at_end(
        const Storage&, const source::BackupReach&) const override {
        return std::optional<std::string>();
    }
    std::string describe_branch(std::uint32_t) const override { return "the change stream"; }
};

}  // namespace lifeboat::mongodb_driver
