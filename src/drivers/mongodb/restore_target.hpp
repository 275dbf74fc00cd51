// The mongodb restore target: loads a backup into another, running MongoDB-compatible server
// (--target-mongo URI; the engine stages the backup's entries in target_dir first). Order:
// collections with their options, documents in ordered bulk inserts of at most
// k_insert_batch_bytes, then the change events stored after the backup's start point
// (log_archive.hpp) up to the target time (every event of the chain for `latest`, none for
// `consistent`) through ChangeApplier (change_apply.hpp), then indexes (all but _id_: built once,
// after the events), then views. An event is within the target when its wallTime (else its
// cluster time's seconds) is at or before it; the first one past it ends the replay. Events up to
// the backup's stop token may already be in the dump: the applier is told so (replay_through).
// --only DB or DB.COLL restores that part alone, events included. A target already holding any
// collection of a database the restore writes is refused before anything is written
// (ErrorCode::conflict). After the events it writes what they did into target_dir
// (restore_record.hpp, k_restore_record_file), for validate.
#pragma once

#include <cstddef>

#include "drivers/mongodb/restore_record.hpp"
#include "source/restore_target.hpp"
#include "sources/mongodb/client.hpp"

namespace lifeboat::mongodb_driver {

inline constexpr std::size_t k_insert_batch_bytes = 8u << 20;
inline constexpr std::size_t k_insert_batch_documents = 10000;

class MongoRestoreTarget final : public source::RestoreTarget {
  public:
    explicit MongoRestoreTarget(source::RestoreRequest request) : m_request(std::move(request)) {}

    Result<std::map<std::uint32_t, fs::path>> check_and_place(
        const repo::Manifest& manifest) override;
    Result<double> prepare_start(const std::string&) override { return 0.0; }
    // Keeps the plan (its target, and the repository's log to read events from).
    Result<std::vector<std::string>> configure(const source::RecoveryPlan& plan) override;
    // Loads the staged entries into the target server (`port` is not used).
    Result<source::StartedInstance> start_and_await(int port, const OperationContext& ctx) override;
    bool has_started() const override { return m_started; }

  private:
    // Applies the stored events the plan asks for; what they did (restore_record.hpp).
    Result<RestoreRecord> apply_events(const mongodb::Client& client, const OperationContext& ctx);

    source::RestoreRequest m_request;
    source::RecoveryPlan m_plan;
    const repo::Manifest* m_manifest = nullptr;
    bool m_started = false;
};

}  // namespace lifeboat::mongodb_driver
