// The mongodb restore target: loads a backup into another, running MongoDB-compatible server
// (--target-mongo URI; the engine stages the backup's entries in target_dir first). Order:
// collections with their options, documents in ordered bulk inserts of at most
// k_insert_batch_bytes, then indexes (all but _id_), then views. --only DB or DB.COLL restores
// that part alone. A target already holding any collection of a database the restore writes is
// refused before anything is written (ErrorCode::conflict). Applying change events up to a time
// comes with change capture.
#pragma once

#include <cstddef>

#include "source/restore_target.hpp"

namespace lifeboat::mongodb_driver {

inline constexpr std::size_t k_insert_batch_bytes = 8u << 20;
inline constexpr std::size_t k_insert_batch_documents = 10000;

class MongoRestoreTarget final : public source::RestoreTarget {
  public:
    explicit MongoRestoreTarget(source::RestoreRequest request) : m_request(std::move(request)) {}

    Result<std::map<std::uint32_t, fs::path>> check_and_place(
        const repo::Manifest& manifest) override;
    Result<double> prepare_start(const std::string&) override { return 0.0; }
    // Only consistent restores until change capture exists (ErrorCode::outside_window else).
    Result<std::vector<std::string>> configure(const source::RecoveryPlan& plan) override;
    // Loads the staged entries into the target server (`port` is not used).
    Result<source::StartedInstance> start_and_await(int port, const OperationContext& ctx) override;
    bool has_started() const override { return m_started; }

  private:
    source::RestoreRequest m_request;
    const repo::Manifest* m_manifest = nullptr;
    bool m_started = false;
};

}  // namespace lifeboat::mongodb_driver
