// lifeboat wal-stream: the WAL of a postgres-physical source over streaming replication
// (drivers/postgres_physical/wal_stream.hpp) in the foreground; SIGTERM or SIGINT (the context's
// cancellation) stores what it holds and ends it with status 0 and the summary.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "drivers/postgres_physical/wal_stream.hpp"

namespace lifeboat::cli {

Status run_wal_stream_command(const Settings& s, const WalStreamArgs&, OutputFormat format) {
    postgres_physical::WalStreamOptions options;
    options.conninfo = s.get("pg");  // run_wal_stream refuses an empty one
    options.slot = s.get("slot");
    if (!s.get("pg-fallback").empty()) options.fallbacks.push_back(s.get("pg-fallback"));
    if (s.get("synchronous") == "true") options.mode = postgres_physical::StreamMode::synchronous;
    // capture's default (1s) is too long for WAL: unless set, wal-stream flushes every 200 ms.
    if (s.given("flush-interval")) {
        options.flush_interval = LB_TRY(interval_setting(s, "flush-interval"));
        if (options.flush_interval.count() == 0)
            return fail(ErrorCode::usage, "--flush-interval must be more than 0");
    }
    options.reconnect_timeout = std::chrono::duration_cast<std::chrono::seconds>(
        LB_TRY(interval_setting(s, "reconnect-timeout")));
    const std::string location = LB_TRY(s.repository());
    repo::Repository repository = LB_TRY(open_repository(s, location));
    OperationContext ctx = command_context();
    ctx.log = [](LogLevel level, std::string_view message) {
        if (level == LogLevel::warning)
            std::fprintf(stderr, "lifeboat: warning: %.*s\n", static_cast<int>(message.size()),
                         message.data());
    };
    const auto summary = LB_TRY(postgres_physical::run_wal_stream(repository, options, ctx));
    if (format == OutputFormat::json) {
        nlohmann::json j = {
            {"slot", summary.slot},
            {"synchronous", options.mode == postgres_physical::StreamMode::synchronous},
            {"slot_created", summary.slot_created},
            {"system_identifier", summary.system_identifier},
            {"timeline", summary.timeline},
            {"started_from", summary.started_from},
            {"flushed", summary.flushed},
            {"chunks", summary.chunks},
            {"bytes", summary.bytes},
            {"segments_stitched", summary.segments_stitched},
            {"segments_already_archived", summary.segments_already_archived},
            {"timeline_switches", summary.timeline_switches},
            {"max_slot_wal_keep_size", summary.max_slot_wal_keep_size},
            {"wal_status", summary.wal_status},
            {"safe_wal_size", summary.safe_wal_size}};
        add_repository_json(j, s, location);
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf(
            "wal-stream of slot %s stopped: timeline %u from %s to %s flushed, %llu chunk(s) "
            "(%llu bytes), %llu segment(s) stitched\n",
            summary.slot.c_str(), summary.timeline, summary.started_from.c_str(),
            summary.flushed.c_str(), static_cast<unsigned long long>(summary.chunks),
            static_cast<unsigned long long>(summary.bytes),
            static_cast<unsigned long long>(summary.segments_stitched));
    }
    return {};
}

}  // namespace lifeboat::cli
