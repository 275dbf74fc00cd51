#include "drivers/mongodb/driver.hpp"

#include "drivers/mongodb/base_backup.hpp"
#include "drivers/mongodb/restore_target.hpp"
#include "drivers/mongodb/validate.hpp"
#include "source/registry.hpp"

namespace lifeboat::mongodb_driver {

Result<std::unique_ptr<source::BaseBackup>> MongoDriver::open_base_backup(
    const source::BaseBackupRequest& request) const {
    return mongodb_driver::open_base_backup(request);
}

Result<source::ValidationReport> MongoDriver::validate(
    const source::ValidateOptions& options) const {
    return mongodb_driver::validate(options);
}

std::unique_ptr<source::RestoreTarget> MongoDriver::restore_target(
    source::RestoreRequest request) const {
    return std::make_unique<MongoRestoreTarget>(std::move(request));
}

void register_driver() {
    source::register_driver(std::make_unique<MongoDriver>());
}

}  // namespace lifeboat::mongodb_driver
