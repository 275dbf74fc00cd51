#include "drivers/postgres_physical/driver.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "drivers/postgres_physical/base_backup.hpp"
#include "drivers/postgres_physical/restore_target.hpp"
#include "drivers/postgres_physical/validate.hpp"
#include "drivers/postgres_physical/wal_stream.hpp"
#include "source/registry.hpp"
#include "sources/postgres/archiver.hpp"
#include "sources/postgres/connection.hpp"
#include "sources/postgres/local_server.hpp"
#include "sources/postgres/wal.hpp"

namespace lifeboat::postgres_physical {

Result<std::unique_ptr<source::BaseBackup>> PhysicalDriver::open_base_backup(
    const source::BaseBackupRequest& request) const {
    return postgres_physical::open_base_backup(request);
}

Result<source::ValidationReport> PhysicalDriver::validate(
    const source::ValidateOptions& options) const {
    return run_validation(options);
}

std::unique_ptr<source::RestoreTarget> PhysicalDriver::restore_target(
    source::RestoreRequest request) const {
    return std::make_unique<PhysicalRestoreTarget>(std::move(request));
}

std::optional<Timestamp> PhysicalDriver::newest_commit(const std::string& conninfo,
                                                       std::chrono::seconds limit) const {
    auto conn = postgres::Connection::open(conninfo, {.statement = limit});
    if (!conn) return std::nullopt;
    // Known only with track_commit_timestamp = on.
    auto value = conn->query_value(
        "SELECT (extract(epoch FROM timestamp) * 1000000)::bigint FROM pg_last_committed_xact()");
    if (!value || value->empty()) return std::nullopt;
    std::int64_t micros = 0;
    const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), micros);
    if (ec != std::errc() || end != value->data() + value->size()) return std::nullopt;
    return Timestamp{micros};
}

namespace {

std::string stream_slot(const source::LogStreamRequest& request) {
    return request.slot.empty() ? std::string("lifeboat") : request.slot;
}

}  // namespace

Result<source::LogStreamSummary> PhysicalDriver::run_log_stream(
    repo::Repository& repository, const source::LogStreamRequest& request,
    const OperationContext& ctx) const {
    WalStreamOptions options;
    options.conninfo = request.conninfo;
    options.slot = stream_slot(request);
    const WalStreamSummary s = LB_TRY(run_wal_stream(repository, options, ctx));
    return source::LogStreamSummary{
        .text =
            fmt::format("wal-stream of slot {} from {} to {}: {} chunk(s), {} bytes, {} "
                        "segment(s) stitched",
                        s.slot, s.started_from, s.flushed, s.chunks, s.bytes, s.segments_stitched),
        .commits = 0,
        .lag_p50_seconds = 0};
}

Result<std::optional<source::LogStreamPosition>> PhysicalDriver::probe_log_stream(
    const repo::Repository& repository, const source::LogStreamRequest& request) const {
    (void)repository;
    const std::string slot = stream_slot(request);
    auto conn = LB_TRY(postgres::Connection::open(request.conninfo, {}));
    const auto rows = LB_TRY(conn.query(
        "SELECT active::text, coalesce(restart_lsn::text, ''), pg_current_wal_lsn()::text, "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint::text, "
        "coalesce(wal_status, ''), coalesce(safe_wal_size::text, ''), "
        "CASE WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN '' ELSE "
        "pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text END, "
        "txid_snapshot_xmax(txid_current_snapshot())::text "
        "FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'",
        {slot}));
    if (rows.rows() == 0) return std::optional<source::LogStreamPosition>();
    auto number = [&](std::size_t column) -> std::optional<std::uint64_t> {
        const std::string t = rows.text(0, column);
        std::int64_t v = 0;
        if (t.empty() || std::from_chars(t.data(), t.data() + t.size(), v).ec != std::errc())
            return std::nullopt;
        return static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0));
    };
    source::LogStreamPosition out;
    out.slot = slot;
    out.active = rows.text(0, 0) == "true";
    // A physical slot's restart point is the position its client reported flushed.
    out.confirmed = rows.text(0, 1);
    out.current = rows.text(0, 2);
    out.retained_bytes = number(3).value_or(0);
    out.unconfirmed_bytes = out.retained_bytes;
    out.wal_status = rows.text(0, 4);
    out.safe_bytes = number(5);
    out.keep_limit_bytes = number(6);
    out.next_xid = number(7);
    return std::optional<source::LogStreamPosition>(std::move(out));
}

Result<std::optional<source::LogPosition>> PhysicalDriver::probe_log_position(
    const std::string& conninfo) const {
    auto conn = LB_TRY(postgres::Connection::open(conninfo, {}));
    const auto archiver = LB_TRY(postgres::archiver_status(conn));
    const std::string current = LB_TRY(conn.query_value("select pg_current_wal_lsn()::text"));
    const std::string segment_size =
        LB_TRY(conn.query_value("select setting from pg_settings where name = 'wal_segment_size'"));
    // Complete segments waiting for the archiver. Counting them, rather than comparing with
    // last_archived_wal, is right whatever the archiver did last (a .backup or .history file
    // has another name).
    const std::string ready =
        LB_TRY(conn.query_value("select count(*) from pg_ls_archive_statusdir() where name ~ "
                                "'^[0-9A-F]{24}\\.ready$'"));
    source::LogPosition out;
    out.current = current;
    out.last_archived = archiver.last_archived_wal;
    out.failed_count = archiver.failed_count;
    const auto lsn = postgres::parse_lsn(current);
    std::uint64_t size = 0;
    std::uint64_t waiting = 0;
    std::from_chars(segment_size.data(), segment_size.data() + segment_size.size(), size);
    std::from_chars(ready.data(), ready.data() + ready.size(), waiting);
    if (!lsn || size == 0) {
        return fail(ErrorCode::database, "unexpected WAL position '{}' or segment size '{}'",
                    current, segment_size);
    }
    // The segments waiting, and what the current segment holds: it is archived only once
    // complete (archive_timeout bounds how long that takes on a quiet server).
    out.bytes_behind = waiting * size + lsn->value % size;
    out.pieces_waiting = waiting;
    // A quiet server keeps writing small bookkeeping records (running transactions,
    // checkpoints) that archive_timeout does not switch for; no transaction id is assigned
    // for them, so an unchanged next id says the current segment holds no new data.
    if (auto next = conn.query_value("select txid_snapshot_xmax(txid_current_snapshot())")) {
        std::uint64_t xid = 0;
        if (std::from_chars(next->data(), next->data() + next->size(), xid).ec == std::errc())
            out.next_xid = xid;
    }
    return std::optional<source::LogPosition>(std::move(out));
}

std::uint64_t PhysicalDriver::log_bytes_to_end(const repo::Manifest& backup,
                                               const source::RestorableWindow& window) const {
    // From the segment holding the backup's start to the end of segment `last_segment`
    // (TTTTTTTTLLLLLLLLSSSSSSSS); 0 when either cannot be read.
    const auto start = postgres::parse_lsn(backup.start_lsn);
    const std::string& last_segment = window.last_segment;
    const std::uint64_t segment_size = backup.postgres.wal_segment_size;
    if (!start || last_segment.size() != 24 || segment_size == 0) return 0;
    std::uint64_t log = 0;
    std::uint64_t seg = 0;
    const char* name = last_segment.data();
    if (std::from_chars(name + 8, name + 16, log, 16).ec != std::errc() ||
        std::from_chars(name + 16, name + 24, seg, 16).ec != std::errc()) {
        return 0;
    }
    const std::uint64_t last = log * (0x100000000ULL / segment_size) + seg;
    const std::uint64_t first = start->value / segment_size;
    return last >= first ? (last - first + 1) * segment_size : 0;
}

Result<std::string> PhysicalDriver::stop_instance(const fs::path& directory,
                                                  const source::RestoreRequest& how) const {
    // How long a postmaster sent SIGQUIT may take before it is killed.
    constexpr std::chrono::seconds k_stop_grace{10};
    auto bindir = postgres::find_server_bindir(how.pg_bin);
    if (!bindir) return std::string();  // no server programs: nothing could have been started
    auto account = postgres::server_account(directory, how.run_as_user);
    postgres::LocalServer server(*bindir, directory,
                                 account ? *account : std::optional<UserAccount>());
    return server.stop_for_certain(postgres::LocalServer::StopMode::fast, k_stop_grace);
}

void register_driver() {
    source::register_driver(std::make_unique<PhysicalDriver>());
}

}  // namespace lifeboat::postgres_physical
