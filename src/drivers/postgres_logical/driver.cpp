#include "drivers/postgres_logical/driver.hpp"

#include <charconv>

#include "drivers/postgres_logical/base_backup.hpp"
#include "drivers/postgres_logical/capture.hpp"
#include "drivers/postgres_logical/restore_target.hpp"
#include "source/registry.hpp"
#include "sources/postgres/connection.hpp"

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

Result<source::LogStreamSummary> LogicalDriver::run_log_stream(
    repo::Repository& repository, const source::LogStreamRequest& request,
    const OperationContext& ctx) const {
    CaptureOptions options;
    options.conninfo = request.conninfo;
    const CaptureSummary s = LB_TRY(run_capture(repository, options, ctx));
    return source::LogStreamSummary{
        .text = fmt::format("capture from {} stored {} object(s), {} commit(s) up to {}",
                            s.started_from, s.objects, s.commits,
                            s.stored_end.empty() ? s.started_from : s.stored_end),
        .commits = s.commits,
        .lag_p50_seconds = s.lag.p50};
}

Result<std::optional<source::LogStreamPosition>> LogicalDriver::probe_log_stream(
    const repo::Repository& repository, const source::LogStreamRequest& request) const {
    const std::string slot = slot_name_for(repository.config().repository_id);
    auto conn = LB_TRY(postgres::Connection::open(request.conninfo, {}));
    const auto rows = LB_TRY(conn.query(
        "SELECT active::text, coalesce(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text, "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint::text, "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint::text, "
        "txid_snapshot_xmax(txid_current_snapshot())::text "
        "FROM pg_replication_slots WHERE slot_name = $1",
        {slot}));
    if (rows.rows() == 0) return std::optional<source::LogStreamPosition>();
    auto text = [&](std::size_t column) { return rows.text(0, column); };
    auto number = [&](std::size_t column) -> std::optional<std::uint64_t> {
        const std::string t = text(column);
        std::int64_t v = 0;
        if (std::from_chars(t.data(), t.data() + t.size(), v).ec != std::errc())
            return std::nullopt;
        return static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0));
    };
    source::LogStreamPosition out;
    out.slot = slot;
    out.active = text(0) == "true";
    out.confirmed = text(1);
    out.current = text(2);
    out.retained_bytes = number(3).value_or(0);
    out.unconfirmed_bytes = number(4).value_or(0);
    out.next_xid = number(5);
    return std::optional<source::LogStreamPosition>(std::move(out));
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
