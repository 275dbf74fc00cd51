// The physical PostgreSQL driver (source kind "postgres-physical"): a data directory copied
// through the backup API plus archived WAL. The first implementation of source/driver.hpp.
#pragma once

#include <memory>

#include "drivers/postgres_physical/wal_log_archive.hpp"
#include "source/driver.hpp"

namespace lifeboat::postgres_physical {

class PhysicalDriver final : public source::SourceDriver {
  public:
    std::string_view kind() const override { return repo::k_kind_postgres_physical; }
    const source::LogArchive& log_archive() const override { return m_archive; }
    Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
        const source::BaseBackupRequest& request) const override;
    Result<source::ValidationReport> validate(
        const source::ValidateOptions& options) const override;
    std::unique_ptr<source::RestoreTarget> restore_target(
        source::RestoreRequest request) const override;
    std::optional<Timestamp> newest_commit(const std::string& conninfo,
                                           std::chrono::seconds statement_limit) const override;
    Result<std::string> stop_instance(const fs::path& directory,
                                      const source::RestoreRequest& how) const override;
    // pg_stat_archiver, the server's WAL position and its archive_status directory (superuser
    // or pg_monitor).
    Result<std::optional<source::LogPosition>> probe_log_position(
        const std::string& conninfo) const override;
    // wal-stream (wal_stream.hpp), which a source turns on: run by the agent as its log stream,
    // on request.slot ("" = "lifeboat").
    bool offers_log_stream() const override { return true; }
    Result<source::LogStreamSummary> run_log_stream(repo::Repository& repository,
                                                    const source::LogStreamRequest& request,
                                                    const OperationContext& ctx) const override;
    // The slot in pg_replication_slots, with its wal_status and safe_wal_size (nullopt when it
    // does not exist).
    Result<std::optional<source::LogStreamPosition>> probe_log_stream(
        const repo::Repository& repository, const source::LogStreamRequest& request) const override;
    std::uint64_t log_bytes_to_end(const repo::Manifest& backup,
                                   const source::RestorableWindow& window) const override;

  private:
    WalLogArchive m_archive;
};

// Registers the driver with source/registry.hpp (the program's wiring calls it once).
void register_driver();

}  // namespace lifeboat::postgres_physical
