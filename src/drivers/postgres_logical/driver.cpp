#include "drivers/postgres_logical/driver.hpp"

#include "drivers/postgres_logical/base_backup.hpp"
#include "drivers/postgres_logical/restore_target.hpp"
#include "source/registry.hpp"

namespace lifeboat::postgres_logical {

Result<std::unique_ptr<source::BaseBackup>> LogicalDriver::open_base_backup(
    const source::BaseBackupRequest& request) const {
    return postgres_logical::open_base_backup(request);
}

Result<source::ValidationReport> LogicalDriver::validate(
    const source::ValidateOptions& options) const {
    return m_instance_checks.validate(options);
}

std::unique_ptr<source::RestoreTarget> LogicalDriver::restore_target(
    source::RestoreRequest request) const {
    return std::make_unique<LogicalRestoreTarget>(std::move(request));
}

std::optional<Timestamp> LogicalDriver::newest_commit(const std::string& conninfo,
                                                      std::chrono::seconds limit) const {
    return m_instance_checks.newest_commit(conninfo, limit);
}

Result<std::string> LogicalDriver::stop_instance(const fs::path& directory,
                                                 const source::RestoreRequest& how) const {
    const fs::path pgdata = directory / k_pgdata_subdirectory;
    std::error_code ec;
    if (!fs::exists(pgdata / "PG_VERSION", ec)) return std::string();  // never created
    return m_instance_checks.stop_instance(pgdata, how);
}

void register_driver() {
    source::register_driver(std::make_unique<LogicalDriver>());
}

}  // namespace lifeboat::postgres_logical
