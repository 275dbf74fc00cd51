// The mongodb driver (source kind "mongodb"): MongoDB 4.0+ and Amazon DocumentDB through
// libmongoc: preflight (preflight.hpp), the base backup (base_backup.hpp), change capture
// (capture.hpp, which the CLI calls: capture is no SourceDriver operation) into the log archive
// (log_archive.hpp, change_log.hpp), restore into another running server to the backup or to a
// time after it (restore_target.hpp) and validation against what the backup recorded
// (validate.hpp).
#pragma once

#include <memory>

#include "drivers/mongodb/log_archive.hpp"
#include "source/driver.hpp"

namespace lifeboat::mongodb_driver {

class MongoDriver final : public source::SourceDriver {
  public:
    std::string_view kind() const override { return repo::k_kind_mongodb; }
    const source::LogArchive& log_archive() const override { return m_archive; }
    Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
        const source::BaseBackupRequest& request) const override;
    Result<source::ValidationReport> validate(
        const source::ValidateOptions& options) const override;
    std::unique_ptr<source::RestoreTarget> restore_target(
        source::RestoreRequest request) const override;
    // The change stream is a log stream a long-running process runs (capture.hpp); the agent
    // runs it through run_log_stream with the source's URI as `conninfo`.
    bool has_log_stream() const override { return true; }
    Result<source::LogStreamSummary> run_log_stream(repo::Repository& repository,
                                                    const source::LogStreamRequest& request,
                                                    const OperationContext& ctx) const override;
    // The stored resume point's age and, on MongoDB, how far back the oplog reaches (its oldest
    // entry); on a server without a readable oplog (DocumentDB) the request's history_limit.
    // nullopt while the repository holds no backup to resume from or the stream was lost (the
    // window's gap says so).
    Result<std::optional<source::LogStreamPosition>> probe_log_stream(
        const repo::Repository& repository, const source::LogStreamRequest& request) const override;
    bool needs_target_server() const override { return true; }
    // Not told: a restored server's documents do not say when they last changed, and the server a
    // restore loads into need not keep an oplog (the drill's RPO comes from the window instead).
    std::optional<Timestamp> newest_commit(const std::string&,
                                           std::chrono::seconds) const override {
        return std::nullopt;
    }
    // A restore loads into a server it did not start: nothing to stop.
    Result<std::string> stop_instance(const fs::path&,
                                      const source::RestoreRequest&) const override {
        return std::string();
    }

  private:
    MongoLogArchive m_archive;
};

// Registers the driver with source/registry.hpp (the program's wiring calls it once).
void register_driver();

}  // namespace lifeboat::mongodb_driver
