#include "drivers/mongodb/driver.hpp"

#include <algorithm>

#include "drivers/mongodb/base_backup.hpp"
#include "drivers/mongodb/capture.hpp"
#include "drivers/mongodb/change_log.hpp"
#include "drivers/mongodb/restore_target.hpp"
#include "drivers/mongodb/validate.hpp"
#include "source/registry.hpp"
#include "sources/mongodb/change_stream.hpp"
#include "sources/mongodb/client.hpp"
#include "util/time.hpp"

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

Result<std::optional<source::LogStreamPosition>> MongoDriver::probe_log_stream(
    const repo::Repository& repository, const source::LogStreamRequest& request) const {
    auto resume = stored_resume_position(repository);
    if (!resume && (resume.error().code == ErrorCode::not_found ||
                    resume.error().code == ErrorCode::outside_window)) {
        return std::optional<source::LogStreamPosition>();
    }
    if (!resume) return std::unexpected(resume.error());
    const auto client =
        LB_TRY(mongodb::Client::connect(request.conninfo, {std::chrono::seconds(5)}));
    const auto oldest = LB_TRY(mongodb::oldest_oplog_time(client));
    // After the server answered: connecting may take seconds, and both figures count to now.
    const double now = static_cast<double>(system_clock().now().micros) / 1e6;
    source::LogStreamPosition out;
    out.slot = "change stream";
    out.confirmed = format_cluster_time(*resume);
    out.resume_age_seconds = std::max(0.0, now - static_cast<double>(*resume >> 32));
    if (oldest) {
        out.history_seconds = std::max(0.0, now - static_cast<double>(*oldest));
    } else if (request.history_limit) {
        out.history_seconds = static_cast<double>(request.history_limit->count());
    }
    return std::optional<source::LogStreamPosition>(std::move(out));
}

void register_driver() {
    source::register_driver(std::make_unique<MongoDriver>());
}

}  // namespace lifeboat::mongodb_driver
