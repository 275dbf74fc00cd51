// The agent's configuration: the [agent], [schedule] and [alerts] sections of the same TOML file
// every command reads (docs/configuration.md), plus what the command line resolves for the
// source (connection, repositories, retention), handed in by the CLI as SourceSpec.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/schedule.hpp"
#include "agent/scheduler.hpp"
#include "engine/retention.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat::agent {

// One protected source and where its backups go, as the CLI resolved it.
struct SourceSpec {
    std::string name = "default";
    std::string conninfo;
    std::optional<fs::path> pgdata;
    std::string repository;            // location
    std::string repository_name;       // configured name, or the location
    std::vector<std::string> copy_to;  // locations of [repositories.NAME] copy_after_backup
    engine::RetentionPolicy retention;
    unsigned jobs = 0;
    std::chrono::seconds archive_timeout{300};
    std::chrono::seconds pg_timeout{3600};
    std::optional<fs::path> key_file;
    std::optional<fs::path> pg_bin;
    std::string run_as_user = "postgres";
    fs::path lifeboat_binary;
};

struct AlertSettings {
    std::vector<std::string> webhooks;        // generic JSON bodies
    std::vector<std::string> slack_webhooks;  // {"text": ...} bodies
    std::string command;                      // run with /bin/sh -c, the JSON body on stdin
    // Thresholds; a rule without one is off (backup_failed and drill_failed are always on).
    std::optional<std::chrono::seconds> rpo_above;
    std::optional<std::chrono::seconds> backup_older_than;
    std::optional<std::chrono::seconds> drill_older_than;
    std::optional<std::chrono::seconds> copy_lag_above;
    std::optional<double> growth_above_percent;  // per day
    unsigned retries = 5;                        // per notification, with doubling backoff
    std::chrono::milliseconds first_retry{1000};
};

struct AgentSettings {
    std::string source_name = "default";  // the `source` label of metrics and alerts
    std::string listen_host = "127.0.0.1";
    int listen_port = 9187;
    std::string token;   // bearer token; required when listen_host is not loopback
    fs::path state_dir;  // job history kept across restarts ("" = in memory)
    std::chrono::seconds probe_interval{5};
    std::chrono::seconds catalog_refresh{15};
    std::optional<std::chrono::seconds> rto_target;
    std::string drill_target = "1h";  // drills restore to this long ago, or "latest"
    fs::path drill_checks;            // validate's --checks for drills ("" = built-in checks)
    std::map<JobKind, Schedule> schedules;
    // schedule.expire = "after backup": expire follows every successful backup instead.
    bool expire_after_backup = false;
    AlertSettings alerts;
};

struct AgentConfig {
    AgentSettings agent;
    std::vector<SourceSpec> sources;
};

// The [agent], [schedule] and [alerts] sections of `path` (ErrorCode::config naming the file,
// line and key for anything unknown or malformed; a non-loopback listen address without a
// token is refused).
Result<AgentSettings> read_agent_settings(const std::string& path);

bool is_loopback(const std::string& host);

}  // namespace lifeboat::agent
