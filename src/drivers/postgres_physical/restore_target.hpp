// The physical PostgreSQL restore target (source/restore_target.hpp): a data directory that
// recovers through `restore_command = 'lifeboat wal-fetch %f %p --repo R'` to the plan's
// target on the plan's timeline, started with pg_ctl as the server's account.
//
// Safety: the target directory must be empty or missing and must not be the source's data
// directory; the new instance does not archive (archive_mode = off) unless asked to, so it can
// never write into the source's archive. Every recovery setting is written by the restore: any
// the backup carried (postgresql.auto.conf) are commented out with a note, standby.signal is
// removed. Paths written into the configuration are quoted as single shell words.
#pragma once

#include <optional>

#include "drivers/postgres_physical/recovery_phases.hpp"
#include "source/restore_target.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres_physical {

// What starting the instance needs that does not depend on the restored files.
struct StartPreparation {
    fs::path bindir;
    std::optional<UserAccount> account;  // runs the server (when lifeboat runs as root)
    double seconds = 0;
};

class PhysicalRestoreTarget final : public source::RestoreTarget {
  public:
    explicit PhysicalRestoreTarget(source::RestoreRequest request)
        : m_request(std::move(request)) {}

    Result<std::map<std::uint32_t, fs::path>> check_and_place(
        const repo::Manifest& manifest) override;
    Result<double> prepare_start(const std::string& repository_location) override;
    std::uint64_t prefetch_log(const source::RecoveryPlan& plan,
                               const std::atomic<bool>& stop) override;
    Result<std::vector<std::string>> configure(const source::RecoveryPlan& plan) override;
    Result<source::StartedInstance> start_and_await(int port, const OperationContext& ctx) override;
    bool has_started() const override { return m_started; }

  private:
    source::RestoreRequest m_request;
    std::map<std::uint32_t, fs::path> m_tablespace_dirs;
    std::optional<StartPreparation> m_prepared;
    bool m_started = false;
    RecoveryEnd m_recovery_end = RecoveryEnd::server_ends_it;  // decided by configure
    std::optional<std::uint64_t> m_replay_buffers;             // likewise (replay_memory.hpp)
};

}  // namespace lifeboat::postgres_physical
