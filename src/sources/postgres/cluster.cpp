#include "sources/postgres/cluster.hpp"

#include <charconv>

namespace lifeboat::postgres {

namespace {
Result<Timestamp> parse_epoch_micros(const std::string& text) {
    std::int64_t micros = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), micros);
    if (ec != std::errc()) return fail(ErrorCode::database, "unexpected server time '{}'", text);
    return Timestamp{micros};
}

constexpr const char* k_now_sql = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

std::uint32_t timeline_of(const std::string& wal_name) {
    return static_cast<std::uint32_t>(std::stoul(wal_name.substr(0, 8), nullptr, 16));
}
}  // namespace

Result<ClusterInfo> describe_cluster(Connection& conn) {
    auto r = LB_TRY(conn.query(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()), "
        "current_setting('server_version_num'), current_setting('data_directory'), "
        "pg_size_bytes(current_setting('wal_segment_size')), current_setting('data_checksums'), "
        "current_setting('block_size'), current_setting('archive_mode'), "
        "current_setting('archive_command'), pg_is_in_recovery()"));
    ClusterInfo info;
    info.system_identifier = r.text(0, 0);
    info.server_version = std::stoi(r.text(0, 1));
    info.data_directory = r.text(0, 2);
    info.wal_segment_size = std::stoull(r.text(0, 3));
    info.data_checksums = r.text(0, 4) == "on";
    info.block_size = static_cast<std::uint32_t>(std::stoul(r.text(0, 5)));
    info.archive_mode = r.text(0, 6);
    info.archive_command = r.text(0, 7);
    info.in_recovery = r.text(0, 8) == "t";
    return info;
}

Result<Timestamp> server_now(Connection& conn) {
    return parse_epoch_micros(LB_TRY(conn.query_value(std::string("SELECT ") + k_now_sql)));
}

Result<BackupStartInfo> start_backup(Connection& conn, const std::string& label) {
    auto r = LB_TRY(conn.query(std::string("SELECT lsn::text, pg_walfile_name(lsn), ") + k_now_sql +
                                   " FROM pg_backup_start($1, true) AS lsn",
                               {label}));
    BackupStartInfo info;
    info.start_lsn = r.text(0, 0);
    info.start_wal = r.text(0, 1);
    info.timeline = timeline_of(info.start_wal);
    info.start_time = LB_TRY(parse_epoch_micros(r.text(0, 2)));
    return info;
}

Result<BackupStopInfo> stop_backup(Connection& conn) {
    auto r = LB_TRY(conn.query(std::string("SELECT lsn::text, pg_walfile_name(lsn), labelfile, "
                                           "coalesce(spcmapfile, ''), ") +
                               k_now_sql + " FROM pg_backup_stop(false)"));
    BackupStopInfo info;
    info.stop_lsn = r.text(0, 0);
    info.stop_wal = r.text(0, 1);
    info.backup_label = r.text(0, 2);
    info.tablespace_map = r.text(0, 3);
    info.stop_time = LB_TRY(parse_epoch_micros(r.text(0, 4)));
    return info;
}

Result<std::optional<std::string>> archiver_failure(Connection& conn) {
    const auto r = LB_TRY(
        conn.query("SELECT last_failed_wal, to_char(last_failed_time AT TIME ZONE 'UTC', "
                   "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), failed_count, last_archived_wal, "
                   "coalesce(last_failed_time > last_archived_time, last_failed_time IS NOT NULL) "
                   "FROM pg_stat_archiver"));
    if (r.rows() != 1 || r.text(0, 4) != "t") return std::optional<std::string>();
    const std::string last_success =
        r.at(0, 3) ? "last success " + *r.at(0, 3) : std::string("no success yet");
    return std::optional<std::string>(fmt::format(
        "pg_stat_archiver: the last archive_command failure was WAL {} at {} ({} failure(s), {}; "
        "the server log has the command's output)",
        r.text(0, 0), r.text(0, 1), r.text(0, 2), last_success));
}

}  // namespace lifeboat::postgres
