#include "sources/postgres/archiver.hpp"

#include <charconv>

#include "util/hex.hpp"

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
    ArchiveSettings settings{.archive_mode = r.text(0, 0),
                             .archive_command = r.text(0, 1),
                             .archive_library = r.text(0, 2),
                             .in_recovery = r.text(0, 3) == "t"};
    // Only for telling clusters apart; an account without the privilege still gets the rest.
    if (auto id = conn.query_value("SELECT system_identifier::text FROM pg_control_system()"))
        settings.system_identifier = *id;
    return settings;
}

Result<std::string> switch_wal(Connection& conn, const std::string& label) {
    auto switched = [&]() -> Result<std::string> {
        LB_CHECK(conn.query("SELECT pg_create_restore_point($1)", {label}));
        return conn.query_value("SELECT pg_walfile_name(pg_switch_wal())");
    }();
    if (!switched && switched.error().message.find("permission denied") != std::string::npos) {
        return fail(ErrorCode::database,
                    "{} (switching WAL needs a superuser, or an account granted EXECUTE on "
                    "pg_create_restore_point and pg_switch_wal)",
                    switched.error().message);
    }
    return switched;
}

std::optional<std::string> find_archive_failure(std::string_view log) {
    constexpr std::string_view k_failed = "archive command failed";
    constexpr std::string_view k_reason = "lifeboat: error:";
    const auto at = log.rfind(k_failed);
    if (at == std::string_view::npos) return std::nullopt;
    auto line_end = log.find('\n', at);
    if (line_end == std::string_view::npos) line_end = log.size();
    const std::string_view outcome = log.substr(at, line_end - at);
    // wal-push's stderr goes to the log unprefixed, before PostgreSQL's line about it, and other
    // sessions may log in between; a reason before the previous failure belongs to that one.
    const auto previous_failure = log.rfind(k_failed, at == 0 ? 0 : at - 1);
    const auto from =
        previous_failure == std::string_view::npos || previous_failure == at ? 0 : previous_failure;
    const auto reason = log.substr(from, at - from).rfind(k_reason);
    if (reason == std::string_view::npos) return std::string(outcome);
    std::string_view line = log.substr(from + reason);
    line = line.substr(0, line.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
        line.remove_suffix(1);
    return fmt::format("{} ({})", line, outcome);
}

std::optional<std::string> last_archive_failure_in_log(Connection& conn) {
    constexpr std::int64_t k_tail = 64 * 1024;
    auto file = conn.query("SELECT pg_current_logfile('stderr')");
    if (!file || file->rows() != 1 || !file->at(0, 0)) return std::nullopt;
    // Read as bytes: the tail may start inside a multi-byte character.
    auto bytes = conn.query(
        "SELECT pg_read_binary_file($1, greatest(s.size - $2::bigint, 0), $2::bigint) "
        "FROM pg_stat_file($1) AS s",
        {*file->at(0, 0), std::to_string(k_tail)});
    if (!bytes || bytes->rows() != 1) return std::nullopt;
    const std::string text = bytes->text(0, 0);
    if (text.rfind("\\x", 0) != 0) return std::nullopt;
    const auto raw = from_hex(std::string_view(text).substr(2));
    if (!raw) return std::nullopt;
    return find_archive_failure(*raw);
}

}  // namespace lifeboat::postgres
