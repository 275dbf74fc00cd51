#include "drivers/mongodb/driver.hpp"

#include "drivers/mongodb/base_backup.hpp"
#include "drivers/mongodb/capture.hpp"
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

Result<source::LogStreamSummary> MongoDriver::run_log_stream(
    repo::Repository& repository, const source::LogStreamRequest& request,
    const OperationContext& ctx) const {
    CaptureOptions options;
    options.uri = request.conninfo;
    const CaptureSummary s = LB_TRY(run_capture(repository, options, ctx));
    return source::LogStreamSummary{
        .text =
            fmt::format("capture from cluster time {} stored {} object(s), {} event(s) up to {}",
                        s.started_from, s.objects, s.events, s.stored_end),
        .commits = s.events,
        .lag_p50_seconds = s.lag.p50};
}

void register_driver() {
    source::register_driver(std::make_unique<MongoDriver>());
}

}  // namespace lifeboat::mongodb_driver
