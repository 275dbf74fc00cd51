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
    // Logical sources: WAL the source retains for the capture's slot, in bytes.
    std::optional<std::uint64_t> slot_retained_above;
    // Stream slots on a server with max_slot_wal_keep_size: the share of that limit the slot
    // may retain before slot_invalidation fires (the server invalidates it at 100%).
    double slot_keep_above_percent = 80;
    // Streams resumed from a history of limited age (MongoDB, DocumentDB): the share of that
    // history the resume point's age may reach before change_history fires (at 100% the
    // server no longer has it and a new base backup is needed).
    double history_used_above_percent = 50;
    unsigned retries = 5;  // per notification, with doubling backoff
    std::chrono::milliseconds first_retry{1000};
};

// The schedule and alert thresholds one source runs under: the agent-wide [schedule] and
// [alerts], with what its [[sources]] entry overrides key by key.
struct SourcePolicy {
    std::map<JobKind, Schedule> schedules;
    // schedule.expire = "after backup": expire follows every successful backup instead.
    bool expire_after_backup = false;
    // schedule.backup_window: scheduled backups start only inside it (scheduler.hpp).
    std::optional<DailyWindow> backup_window;
    AlertSettings alerts;  // its thresholds (notifications go to the agent-wide targets)
};

// One protected source and where its backups go, as the CLI resolved it.
struct SourceSpec {
    std::string name = "default";
    std::string kind = "postgres-physical";  // its driver (source/registry.hpp)
    std::string conninfo;
    std::optional<fs::path> pgdata;
    std::string repository;            // location
    std::string repository_name;       // configured name, or the location
    std::vector<std::string> copy_to;  // locations its backups are copied into
    engine::RetentionPolicy retention;
    unsigned jobs = 0;
    std::chrono::seconds archive_timeout{300};
    std::chrono::seconds pg_timeout{3600};
    std::optional<fs::path> key_file;
    std::optional<fs::path> pg_bin;
    std::string run_as_user = "postgres";
    fs::path lifeboat_binary;
    // Its own policy ([[sources]] form); absent: the agent-wide one (policy_of).
    std::optional<SourcePolicy> policy;
    // wal_stream = true: the agent runs wal-stream for it (its kind must offer a log stream)
    // on this slot, besides whatever archive_command stores.
    bool wal_stream = false;
    std::string wal_stream_slot = "lifeboat";
    // A mongodb source's change history when the server cannot tell (SourceEntry).
    std::optional<std::chrono::seconds> change_history;
};

// One [[sources]] table as written (the CLI resolves repositories, keys and retention).
struct SourceEntry {
    std::string name;
    std::string kind = "postgres-physical";
    std::string pg;
    std::string mongo;  // kind mongodb: its URI (instead of pg)
    // kind mongodb: how far back the server's change history reaches when it cannot tell
    // (DocumentDB's change_stream_log_retention_duration).
    std::optional<std::chrono::seconds> change_history;
    std::string pgdata;      // "" = the server's data_directory
    std::string pg_bin;      // "" = the general setting
    std::string run_as;      // "" = the general setting
    std::string repository;  // a [repositories.NAME] name or a location
    std::vector<std::string> copy_to;
    bool wal_stream = false;
    std::string wal_stream_slot;  // "" = "lifeboat"
    SourcePolicy policy;          // merged over the agent-wide one
    int line = 0;                 // where the table begins, for messages
};

struct AgentSettings {
    std::string source_name = "default";  // the `source` label of metrics and alerts
    bool source_named = false;            // agent.source given (refused with [[sources]])
    std::string listen_host = "127.0.0.1";
    int listen_port = 9187;
    std::string token;   // bearer token; required when listen_host is not loopback
    fs::path state_dir;  // job history kept across restarts ("" = in memory)
    std::chrono::seconds probe_interval{5};
    // The catalog is re-read when the archive moved on, at most every catalog_refresh, and
    // every catalog_refresh_idle otherwise (agent.cpp says why).
    std::chrono::seconds catalog_refresh{15};
    std::chrono::seconds catalog_refresh_idle{300};
    std::optional<std::chrono::seconds> rto_target;
    std::string drill_target = "1h";  // drills restore to this long ago, or "latest"
    fs::path drill_checks;            // validate's --checks for drills ("" = built-in checks)
    std::map<JobKind, Schedule> schedules;
    // schedule.expire = "after backup": expire follows every successful backup instead.
    bool expire_after_backup = false;
    std::optional<DailyWindow> backup_window;
    AlertSettings alerts;
    // The [[sources]] tables, in the file's order; empty in the single-source form ([source],
    // agent.source).
    std::vector<SourceEntry> source_entries;
};

// The policy `source` runs under: its own, else the agent-wide one.
SourcePolicy policy_of(const SourceSpec& source, const AgentSettings& agent);
// The thresholds of `source` (its own policy's, else `fallback`).
const AlertSettings& thresholds_of(const SourceSpec& source, const AlertSettings& fallback);

struct AgentConfig {
    AgentSettings agent;
    std::vector<SourceSpec> sources;
};

// The [agent], [schedule] and [alerts] sections of `path` (ErrorCode::config naming the file,
// line and key for anything unknown or malformed; a non-loopback listen address without a
// token is refused). With [[sources]] tables, each is checked too (a name, a connection and a
// repository each; names unique; agent.source not set).
Result<AgentSettings> read_agent_settings(const std::string& path);

bool is_loopback(const std::string& host);

// A size with an optional unit: "10GB", "512MB", "64kB", "1TB", "100B" or a plain byte count;
// units are powers of 1024 as in PostgreSQL (KiB/MiB/GiB/TiB are accepted too). nullopt when
// malformed or zero.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

}  // namespace lifeboat::agent
