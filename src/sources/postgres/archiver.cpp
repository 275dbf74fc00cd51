#include "sources/postgres/archiver.hpp"

#include <charconv>

namespace lifeboat::postgres {

namespace {

// Times come as microseconds since the epoch, which parse without any locale or zone.
Result<std::optional<Timestamp>> epoch_micros(const std::optional<std::string>& text) {
    if (!text) return std::optional<Timestamp>();
    std::int64_t micros = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), micros);
    if (ec != std::errc() || ptr != text->data() + text->size())
        return fail(ErrorCode::database, "unexpected time '{}' in pg_stat_archiver", *text);
    return std::optional<Timestamp>(Timestamp{micros});
}

Result<std::uint64_t> count(const std::string& text) {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr != text.data() + text.size())
        return fail(ErrorCode::database, "unexpected count '{}' in pg_stat_archiver", text);
    return n;
}

std::string micros_of(const char* column) {
    return fmt::format("(extract(epoch from {}) * 1000000)::bigint", column);
}

}  // namespace

Result<ArchiverStatus> archiver_status(Connection& conn) {
    const auto r = LB_TRY(conn.query(fmt::format(
        "SELECT archived_count, last_archived_wal, {}, failed_count, last_failed_wal, {}, {} "
        "FROM pg_stat_archiver",
        micros_of("last_archived_time"), micros_of("last_failed_time"), micros_of("stats_reset"))));
    if (r.rows() != 1) return fail(ErrorCode::database, "pg_stat_archiver has {} rows", r.rows());
    ArchiverStatus s;
    s.archived_count = LB_TRY(count(r.text(0, 0)));
    s.last_archived_wal = r.text(0, 1);
    s.last_archived_time = LB_TRY(epoch_micros(r.at(0, 2)));
    s.failed_count = LB_TRY(count(r.text(0, 3)));
    s.last_failed_wal = r.text(0, 4);
    s.last_failed_time = LB_TRY(epoch_micros(r.at(0, 5)));
    s.stats_reset = LB_TRY(epoch_micros(r.at(0, 6)));
    return s;
}

Result<ArchiveSettings> archive_settings(Connection& conn) {
    const auto r = LB_TRY(
        conn.query("SELECT current_setting('archive_mode'), current_setting('archive_command'), "
                   "coalesce(current_setting('archive_library', true), ''), pg_is_in_recovery()"));
    return ArchiveSettings{.archive_mode = r.text(0, 0),
                           .archive_command = r.text(0, 1),
                           .archive_library = r.text(0, 2),
                           .in_recovery = r.text(0, 3) == "t"};
}

Result<std::string> switch_wal(Connection& conn, const std::string& label) {
    LB_CHECK(conn.query("SELECT pg_create_restore_point($1)", {label}));
    return conn.query_value("SELECT pg_walfile_name(pg_switch_wal())");
}

}  // namespace lifeboat::postgres
