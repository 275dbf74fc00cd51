// lifeboat capture: the change stream of a postgres-logical source
// (drivers/postgres_logical/capture.hpp) or a mongodb source (drivers/mongodb/capture.hpp) in the
// foreground; SIGTERM or SIGINT (the context's
// cancellation) stores what it holds and ends it with status 0 and the summary.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "drivers/mongodb/capture.hpp"
#include "drivers/postgres_logical/capture.hpp"
#include "repository/manifest.hpp"

namespace lifeboat::cli {

// "500ms", or a duration as every other setting takes it ("1s", "2m").
Result<std::chrono::milliseconds> interval_setting(const Settings& s, const std::string& name) {
    const std::string text = s.get(name);
    if (text == "0") return std::chrono::milliseconds(0);
    if (text.size() > 2 && text.ends_with("ms")) {
        const std::string digits = text.substr(0, text.size() - 2);
        if (digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos)
            return std::chrono::milliseconds(std::stoll(digits));
    }
    auto seconds = parse_duration(text);
    if (!seconds) {
        return fail(ErrorCode::usage, "--{} '{}': give a duration such as 500ms, 1s or 30s", name,
                    text);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(*seconds);
}

namespace {

OperationContext capture_context() {
    OperationContext ctx = command_context();
    ctx.log = [](LogLevel level, std::string_view message) {
        if (level == LogLevel::warning)
            std::fprintf(stderr, "lifeboat: warning: %.*s\n", static_cast<int>(message.size()),
                         message.data());
    };
    return ctx;
}

Status run_mongodb_capture(const Settings& s, OutputFormat format) {
    mongodb_driver::CaptureOptions options;
    options.uri = s.get("mongo");  // run_capture refuses an empty one
    options.flush_interval = LB_TRY(interval_setting(s, "flush-interval"));
    if (options.flush_interval.count() == 0)
        return fail(ErrorCode::usage, "--flush-interval must be more than 0");
    const std::string location = LB_TRY(s.repository());
    repo::Repository repository = LB_TRY(open_repository(s, location));
    const OperationContext ctx = capture_context();
    const auto summary = LB_TRY(mongodb_driver::run_capture(repository, options, ctx));
    if (format == OutputFormat::json) {
        nlohmann::json j = {{"started_from", summary.started_from},
                            {"resumed_after", summary.resumed_after},
                            {"stored_end", summary.stored_end},
                            {"objects", summary.objects},
                            {"events", summary.events},
                            {"quiet_tokens", summary.quiet_tokens},
                            {"stored_bytes", summary.stored_bytes},
                            {"lag_seconds",
                             {{"events", summary.lag.events},
                              {"p50", summary.lag.p50},
                              {"p99", summary.lag.p99},
                              {"max", summary.lag.max}}}};
        add_repository_json(j, s, location);
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf(
            "capture of the change stream stopped: %llu object(s), %llu event(s) stored from "
            "cluster time %s to %s; event-to-stored lag p50 %.3f s, p99 %.3f s\n",
            static_cast<unsigned long long>(summary.objects),
            static_cast<unsigned long long>(summary.events), summary.started_from.c_str(),
            summary.stored_end.c_str(), summary.lag.p50, summary.lag.p99);
    }
    return {};
}

}  // namespace

Status run_capture_command(const Settings& s, const CaptureArgs&, OutputFormat format) {
    const std::string kind = s.get("source-kind");
    if (kind == repo::k_kind_mongodb) return run_mongodb_capture(s, format);
    if (kind != repo::k_kind_postgres_logical) {
        return fail(ErrorCode::usage,
                    "capture streams a postgres-logical or mongodb source: give --source-kind "
                    "postgres-logical or mongodb (a physical source's WAL is archived by "
                    "archive_command)");
    }
    postgres_logical::CaptureOptions options;
    options.conninfo = s.get("pg");  // run_capture refuses an empty one
    options.flush_interval = LB_TRY(interval_setting(s, "flush-interval"));
    if (options.flush_interval.count() == 0)
        return fail(ErrorCode::usage, "--flush-interval must be more than 0");
    options.heartbeat_interval = LB_TRY(interval_setting(s, "heartbeat-interval"));
    options.statement_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    const std::string location = LB_TRY(s.repository());
    repo::Repository repository = LB_TRY(open_repository(s, location));
    const OperationContext ctx = capture_context();
    const auto summary = LB_TRY(postgres_logical::run_capture(repository, options, ctx));
    for (const auto& w : summary.warnings)
        std::fprintf(stderr, "lifeboat: warning: %s\n", w.c_str());
    if (format == OutputFormat::json) {
        nlohmann::json j = {{"slot", summary.slot},
                            {"started_from", summary.started_from},
                            {"stored_end", summary.stored_end},
                            {"confirmed", summary.confirmed},
                            {"objects", summary.objects},
                            {"commits", summary.commits},
                            {"messages", summary.messages},
                            {"stored_bytes", summary.stored_bytes},
                            {"sequence_samples", summary.sequence_samples},
                            {"lag_seconds",
                             {{"commits", summary.lag.commits},
                              {"p50", summary.lag.p50},
                              {"p99", summary.lag.p99},
                              {"max", summary.lag.max}}}};
        add_repository_json(j, s, location);
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf(
            "capture of slot %s stopped: %llu object(s), %llu commit(s) stored from %s to %s; "
            "commit-to-stored lag p50 %.3f s, p99 %.3f s\n",
            summary.slot.c_str(), static_cast<unsigned long long>(summary.objects),
            static_cast<unsigned long long>(summary.commits), summary.started_from.c_str(),
            summary.stored_end.c_str(), summary.lag.p50, summary.lag.p99);
    }
    return {};
}

}  // namespace lifeboat::cli
