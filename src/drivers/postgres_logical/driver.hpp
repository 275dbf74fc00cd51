// The logical PostgreSQL driver (source kind "postgres-logical"): managed servers (Aurora, RDS,
// Cloud SQL) reached only through a replication role: a base backup under a logical slot's
// exported snapshot (base_backup.hpp), the change stream stored by capture (capture.hpp, which
// the CLI calls directly and the agent through run_log_stream) and followed by the log
// archive (log_archive.hpp), restored into a new local instance to the snapshot
// (restore_target.hpp). Applying the change log at restore comes next (docs/operations.md,
// "Managed PostgreSQL (logical backups)").
#pragma once

#include <memory>

#include "drivers/postgres_logical/log_archive.hpp"
#include "drivers/postgres_physical/driver.hpp"
#include "source/driver.hpp"

namespace lifeboat::postgres_logical {

class LogicalDriver final : public source::SourceDriver {
  public:
    std::string_view kind() const override { return repo::k_kind_postgres_logical; }
    const source::LogArchive& log_archive() const override { return m_archive; }
    Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
        const source::BaseBackupRequest& request) const override;
    // The same SQL checks as a physical restore's (any PostgreSQL instance).
    Result<source::ValidationReport> validate(
        const source::ValidateOptions& options) const override;
    std::unique_ptr<source::RestoreTarget> restore_target(
        source::RestoreRequest request) const override;
    std::optional<Timestamp> newest_commit(const std::string& conninfo,
                                           std::chrono::seconds statement_limit) const override;
    // The change stream: run_capture with its default intervals, until cancelled.
    bool has_log_stream() const override { return true; }
    // The slot is the repository's (request.slot is not used).
    Result<source::LogStreamSummary> run_log_stream(repo::Repository& repository,
                                                    const source::LogStreamRequest& request,
                                                    const OperationContext& ctx) const override;
    // The repository's slot in pg_replication_slots (nullopt when it does not exist).
    Result<std::optional<source::LogStreamPosition>> probe_log_stream(
        const repo::Repository& repository, const source::LogStreamRequest& request) const override;
    // Stops the instance a restore started in `directory`/pgdata.
    Result<std::string> stop_instance(const fs::path& directory,
                                      const source::RestoreRequest& how) const override;

  private:
    LogicalLogArchive m_archive;
    // What does not differ between the kinds for a running PostgreSQL instance.
    postgres_physical::PhysicalDriver m_instance_checks;
};

// Registers the driver with source/registry.hpp (the program's wiring calls it once).
void register_driver();

}  // namespace lifeboat::postgres_logical
