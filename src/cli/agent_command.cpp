// `lifeboat agent`, `lifeboat status` and `lifeboat alert-test`: the CLI side of src/agent/.
// The agent's own sections ([agent], [schedule], [alerts]) are read by agent/config; what a
// source is (connection, repositories, retention, keys) comes from Settings, as for every
// other command, so `lifeboat backup --config F` and the agent back up the same thing.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "agent/agent.hpp"
#include "agent/client.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"

namespace lifeboat::cli {

namespace {

Result<std::string> config_file_of(const std::string& given, std::string_view command) {
    if (!given.empty()) return given;
    if (const char* env = std::getenv("LIFEBOAT_CONFIG"); env && *env) return std::string(env);
    return fail(ErrorCode::usage,
                "{} needs --config FILE (or LIFEBOAT_CONFIG): its [agent], [schedule] and "
                "[alerts] sections",
                command);
}

fs::path self_binary() {
    std::error_code ec;
    auto path = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("lifeboat") : path;
}

// What every source shares: the general settings' jobs, timeouts and binary, and the
// repository's retention and key.
Result<agent::SourceSpec> source_at(const Settings& s, const std::string& repository) {
    agent::SourceSpec source;
    source.repository = repository;
    const std::string name = s.repository_name(source.repository);
    source.repository_name = name.empty() ? source.repository : name;
    source.retention = LB_TRY(retention_policy(s, source.repository));
    source.jobs = LB_TRY(s.jobs());
    source.archive_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("archive-timeout")));
    source.pg_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    if (const auto keys = keys_of(s, source.repository); keys.key_file) {
        source.key_file = *keys.key_file;
    }
    if (auto bin = s.find("pg-bin")) source.pg_bin = *bin;
    source.run_as_user = s.get("run-as");
    source.lifeboat_binary = self_binary();
    return source;
}

// The [[sources]] form: each table names its connection and repositories.
Result<std::vector<agent::SourceSpec>> sources_of(const Settings& s,
                                                  const agent::AgentSettings& settings,
                                                  const std::string& config_file) {
    std::vector<agent::SourceSpec> out;
    std::map<std::string, std::string> owner;  // repository location -> source
    for (const auto& entry : settings.source_entries) {
        agent::SourceSpec source = LB_TRY(source_at(s, s.repository_location(entry.repository)));
        source.name = entry.name;
        source.kind = entry.kind;
        source.conninfo = entry.kind == repo::k_kind_mongodb ? entry.mongo : entry.pg;
        source.change_history = entry.change_history;
        if (!entry.pgdata.empty()) source.pgdata = entry.pgdata;
        if (!entry.pg_bin.empty()) source.pg_bin = entry.pg_bin;
        if (!entry.run_as.empty()) source.run_as_user = entry.run_as;
        for (const auto& to : entry.copy_to)
            source.copy_to.push_back(s.repository_location(to));
        source.policy = entry.policy;
        source.wal_stream = entry.wal_stream;
        if (!entry.wal_stream_slot.empty()) source.wal_stream_slot = entry.wal_stream_slot;
        // A repository holds one source (its manifests name one kind, its WAL one timeline
        // history): two sources writing one would mix their archives.
        std::vector<std::string> locations = source.copy_to;
        locations.push_back(source.repository);
        for (const auto& location : locations) {
            const auto [it, fresh] = owner.emplace(location, entry.name);
            if (!fresh && it->second != entry.name) {
                return fail(ErrorCode::config,
                            "{}:{}: sources '{}' and '{}' both use repository {}: a repository "
                            "holds one source",
                            config_file, entry.line, it->second, entry.name,
                            s.describe_repository(location));
            }
        }
        out.push_back(std::move(source));
    }
    return out;
}

Result<agent::AgentConfig> load_agent_config(const std::map<std::string, std::string>& flags,
                                             const std::string& config_file) {
    const Settings s = LB_TRY(Settings::resolve(flags, config_file));
    agent::AgentConfig config;
    config.agent = LB_TRY(agent::read_agent_settings(config_file));
    if (!config.agent.source_entries.empty()) {
        config.sources = LB_TRY(sources_of(s, config.agent, config_file));
        return config;
    }
    const std::string repository = LB_TRY(s.repository());
    agent::SourceSpec source = LB_TRY(source_at(s, repository));
    source.name = config.agent.source_name;
    source.kind = s.get("source-kind").empty() ? source.kind : s.get("source-kind");
    const bool mongodb = source.kind == repo::k_kind_mongodb;
    if (auto conn = s.find(mongodb ? "mongo" : "pg")) {
        source.conninfo = *conn;
    } else {
        return fail(ErrorCode::config,
                    "{}: the agent needs the source's connection: set source.{} (or --{}), or "
                    "describe each source in a [[sources]] table",
                    config_file, mongodb ? "mongo" : "pg", mongodb ? "mongo" : "pg");
    }
    if (auto pgdata = s.find("pgdata")) source.pgdata = *pgdata;
    for (const auto& r : s.repositories())
        if (r.copy_after_backup && r.location != source.repository)
            source.copy_to.push_back(r.location);
    source.policy = agent::policy_of(source, config.agent);  // shown on the page and the API
    config.sources.push_back(std::move(source));
    return config;
}

void log_line(LogLevel level, std::string_view line) {
    std::fprintf(
        stderr, "lifeboat agent: %s%s %.*s\n", level == LogLevel::warning ? "warning: " : "",
        format_iso8601(system_clock().now()).c_str(), static_cast<int>(line.size()), line.data());
}

}  // namespace

Status run_agent_command(const std::map<std::string, std::string>& flags,
                         const std::string& config_given) {
    const std::string config_file = LB_TRY(config_file_of(config_given, "agent"));
    // Signals are taken by this thread alone (sigwait below): every thread the agent starts
    // inherits the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // Keys are read once, at start-up, from the settings then in force: a reload does not
    // change them.
    const Settings keyed = LB_TRY(Settings::resolve(flags, config_file));
    agent::AgentOptions options;
    options.load = [flags, config_file] { return load_agent_config(flags, config_file); };
    options.config_file = config_file;
    options.runner = agent::make_engine_job_runner(
        [keyed](const std::string& location) { return open_repository(keyed, location); });
    options.log = log_line;
    auto running = LB_TRY(agent::Agent::start(std::move(options)));
    while (true) {
        int signal = 0;
        if (sigwait(&signals, &signal) != 0) continue;
        if (signal == SIGHUP) {
            if (auto reloaded = running->reload(); !reloaded) {
                log_line(LogLevel::warning, "configuration refused, the running one is kept: " +
                                                reloaded.error().message);
            }
            continue;
        }
        log_line(LogLevel::info, signal == SIGTERM ? "SIGTERM: stopping" : "SIGINT: stopping");
        running->stop();
        return {};
    }
}

Status run_status_command(const std::string& config_given, OutputFormat format) {
    const std::string config_file = LB_TRY(config_file_of(config_given, "status"));
    const auto settings = LB_TRY(agent::read_agent_settings(config_file));
    const std::string body = LB_TRY(agent::fetch_status(settings));
    if (format == OutputFormat::json) {
        std::printf("%s\n", body.c_str());
        return {};
    }
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(ErrorCode::unavailable, "the agent's /api/status is not JSON");
    try {
        for (const auto& s : j.at("sources")) {
            std::printf("source %s (repository %s): %s\n", s.at("name").get<std::string>().c_str(),
                        s.at("repository").get<std::string>().c_str(),
                        s.at("readiness").at("verdict").get<std::string>().c_str());
            for (const auto& r : s.at("readiness").at("reasons"))
                std::printf("  - %s\n", r.get<std::string>().c_str());
            const auto& w = s.at("window");
            if (w.is_object() && !w.at("end").get<std::string>().empty()) {
                std::printf("  restorable %s .. %s\n", w.at("start").get<std::string>().c_str(),
                            w.at("end").get<std::string>().c_str());
            } else {
                std::printf("  restorable: nothing yet\n");
            }
            std::printf(
                "  RPO now %.0f s (%llu bytes not archived); %zu backup(s); next "
                "backup %s\n",
                s.at("rpo_seconds").get<double>(),
                static_cast<unsigned long long>(s.at("wal_archive_lag_bytes").get<std::uint64_t>()),
                s.at("backups").size(),
                s.at("next_backup").get<std::string>().empty()
                    ? "not scheduled"
                    : s.at("next_backup").get<std::string>().c_str());
            if (s.at("running").is_string())
                std::printf("  running: %s\n", s.at("running").get<std::string>().c_str());
        }
        for (const auto& a : j.at("alerts")) {
            if (a.at("state") == "firing") {
                std::printf("ALERT %s on %s: %s\n", a.at("name").get<std::string>().c_str(),
                            a.at("source").get<std::string>().c_str(),
                            a.at("message").get<std::string>().c_str());
            }
        }
        const auto& history = j.at("history");
        const std::size_t first = history.size() > 10 ? history.size() - 10 : 0;
        if (!history.empty()) std::printf("last jobs:\n");
        for (std::size_t i = first; i < history.size(); ++i) {
            const auto& r = history[i];
            std::printf(
                "  %s %-7s %-6s %6.1f s %s %s\n", r.at("started").get<std::string>().c_str(),
                r.at("kind").get<std::string>().c_str(),
                r.at("ok").get<bool>()      ? "ok"
                : r.value("skipped", false) ? "skipped"
                                            : "FAILED",
                r.at("duration_seconds").get<double>(), r.at("source").get<std::string>().c_str(),
                r.at("message").get<std::string>().c_str());
        }
    } catch (const nlohmann::json::exception& e) {
        return fail(ErrorCode::unavailable, "the agent's /api/status is not as expected: {}",
                    e.what());
    }
    return {};
}

Status run_alert_test_command(const std::string& config_given, OutputFormat format) {
    const std::string config_file = LB_TRY(config_file_of(config_given, "alert-test"));
    const auto settings = LB_TRY(agent::read_agent_settings(config_file));
    // The test names a configured source: the first [[sources]] table's, else agent.source.
    const std::string source = settings.source_entries.empty()
                                   ? settings.source_name
                                   : settings.source_entries.front().name;
    LB_CHECK(agent::send_test_notification(settings.alerts, source, system_clock().now()));
    const std::size_t targets = settings.alerts.webhooks.size() +
                                settings.alerts.slack_webhooks.size() +
                                (settings.alerts.command.empty() ? 0 : 1);
    if (format == OutputFormat::json) {
        std::printf("%s\n", nlohmann::json{{"sent", true}, {"targets", targets}}.dump(2).c_str());
    } else {
        std::printf("test notification delivered to %zu target(s)\n", targets);
    }
    return {};
}

}  // namespace lifeboat::cli
