// The lifeboat commands. Each takes resolved Settings plus its own parsed options, prints its
// result (text, or JSON with --json) on stdout, and returns a Status whose error the caller
// prints as one line and turns into the documented exit status (docs/cli.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cli/context.hpp"
#include "cli/settings.hpp"
#include "engine/retention.hpp"
#include "repository/keys.hpp"
#include "repository/manifest.hpp"
#include "repository/object.hpp"
#include "repository/repository.hpp"
#include "source/restore_target.hpp"

namespace lifeboat::cli {

enum class OutputFormat { text, json };

struct RepoInitArgs {
    bool encrypt = false;
    unsigned object_lock_days = 0;  // 0: no object lock
    std::string object_lock_mode;   // governance (default) or compliance
};
struct BackupArgs {
    std::vector<std::string> tags;  // KEY=VALUE
    std::string type = "incremental";
    bool verify_unchanged = false;
    bool pin = false;
    std::string pin_until;
};
struct WalPushArgs {
    std::string path;
};
struct LogicalPushArgs {
    std::string name;  // logical/<start>-<end>
    std::string path;
};
struct WalFetchArgs {
    std::string name;
    std::string destination;
    unsigned prefetch = 8;
};
// The hidden `wal-prefetch` command wal-fetch starts in the background.
struct WalPrefetchArgs {
    std::string spool;
    std::string after;
    std::uint64_t segment_size = 0;
    unsigned count = 0;
};
struct RestoreArgs {
    std::string to;  // ISO 8601 or "latest"
    std::string backup;
    std::string target_dir;
    int port = 0;
    bool start = false;
    bool archive = false;
    std::vector<std::string> tablespaces;  // OID=DIR
    std::string timeline;                  // "", an id, "current" or "latest"
    std::string target_pg;                 // postgres-logical: load into this database
    std::string only;                      // postgres-logical: this table alone; mongodb: DB[.COLL]
    std::string target_mongo;              // mongodb: load into this server (URI)
};
struct ValidateArgs {
    std::string checks;
    std::string baseline;
    std::string target;
    bool all_databases = false;          // the default; accepted for older scripts
    std::vector<std::string> databases;  // --database: only these
    std::string backup;                  // mongodb: compare with this backup (default newest)
    std::string target_dir;              // mongodb: the --target-dir of the restore checked
};
struct VerifyArgs {
    std::string backup;
};
struct ListArgs {
    std::vector<std::string> tags;  // KEY=VALUE filters
};
struct ExpireArgs {
    bool dry_run = false;
    double repack_below = 0.5;
    unsigned lock_wait = 3600;  // seconds
};
struct RepairArgs {
    bool dry_run = false;
    unsigned lock_wait = 3600;  // seconds
};
struct PinArgs {
    std::string backup;
    std::string until;
    bool unpin = false;
    bool legal_hold = false;  // also an object-lock legal hold on everything the backup needs
};
struct DrillArgs {
    std::string to;
    std::string ago;
    bool latest = false;
    std::string checks;
    bool keep = false;
    std::string scratch_dir;             // --scratch-dir (default: $TMPDIR, else /tmp)
    std::vector<std::string> databases;  // --database: validate only these
    std::string timeline;                // as restore --timeline
    std::string target_mongo;            // mongodb: restore into and validate this server
};
struct ReportArgs {
    std::string format;  // "" (not given: markdown, or json with --json), markdown, html, json
};
struct CopyArgs {
    std::string from;
    std::string to;
    std::string backup;
    bool all = false;
    std::string from_key_file;  // default: the repository's key_file, else --key-file
    std::string to_key_file;
};
struct DemoArgs {
    bool keep = false;
};
struct LogicalSetupArgs {
    bool apply = false;  // run what Lifeboat may create on the source
};

struct CaptureArgs {};
struct MongoPreflightArgs {};
// The backup of --repo a mongodb validate compares with: `backup_id`, or the newest
// (ErrorCode::not_found when there is none; ErrorCode::usage when it is of another kind).
Result<repo::Manifest> recorded_mongodb_backup(const Settings& s, const std::string& backup_id);
// The backup a mongodb restore into --target-dir `dir` loaded (its restore record).
Result<std::string> restored_mongodb_backup(const fs::path& dir);
Status run_mongo_preflight_command(const Settings& s, const MongoPreflightArgs& args,
                                   OutputFormat format);
struct WalStreamArgs {};

// A duration setting in milliseconds: "500ms", or a duration as every other setting takes it
// ("1s", "2m"); "0" is 0. ErrorCode::usage naming --<name> otherwise.
Result<std::chrono::milliseconds> interval_setting(const Settings& s, const std::string& name);

// --replay-shared-buffers: auto, configured, or a size in PostgreSQL's units (4GB, 512MB);
// ErrorCode::usage otherwise.
Result<source::ReplayMemory> replay_memory_setting(const Settings& s);
// --restore-writes: true for direct (past the page cache), false for buffered.
Result<bool> direct_writes_setting(const Settings& s);
// --restore-checks: true for ids (every block against its id), false for checksum.
Result<bool> block_id_checks_setting(const Settings& s);

struct CheckArgs {
    unsigned timeout = 60;  // seconds to wait for the switched segment
};

// A --tag (or similar flag, named in messages) split at its first '='; usage error unless it is
// KEY=VALUE with a non-empty key and no control characters.
Result<std::pair<std::string, std::string>> parse_tag(const std::string& tag,
                                                      std::string_view flag);

// A repository's object lock as JSON: {"mode", "days"}, or null.
nlohmann::json object_lock_json(const std::optional<repo::ObjectLockConfig>& lock);

// Damaged objects as the JSON array every command's result carries: [{"object", "reason"}].
nlohmann::json damaged_json(const std::vector<repo::DamagedObject>& damaged);

// The "repository" and "repository_name" (null when not configured) members every JSON result
// of a command that works on one repository carries, so that output always says where it went.
void add_repository_json(nlohmann::json& j, const Settings& s, const std::string& location);

Status run_repo_init(const Settings& s, const RepoInitArgs& args, OutputFormat format);
Status run_backup_command(const Settings& s, const BackupArgs& args, OutputFormat format);
// `capture`: the change stream of a postgres-logical source until SIGTERM/SIGINT.
Status run_capture_command(const Settings& s, const CaptureArgs& args, OutputFormat format);
// `wal-stream`: WAL of a postgres-physical source over streaming replication until SIGTERM/SIGINT.
Status run_wal_stream_command(const Settings& s, const WalStreamArgs& args, OutputFormat format);
// The repositories wal-push stores every WAL file in: the command's repository, then every
// configured one with `archive = true` (each location once).
Result<std::vector<std::string>> archive_repositories(const Settings& s);
Status run_wal_push(const Settings& s, const WalPushArgs& args);
// The hidden logical-push: stores one change log object built outside (tests).
Status run_logical_push(const Settings& s, const LogicalPushArgs& args);
Status run_wal_fetch(const Settings& s, const WalFetchArgs& args);
Status run_wal_prefetch(const Settings& s, const WalPrefetchArgs& args);
Status run_list(const Settings& s, const ListArgs& args, OutputFormat format);
// The retention policy in force for the repository at `repository` (flags, environment,
// [repositories.NAME.retention], [retention], defaults).
Result<engine::RetentionPolicy> retention_policy(const Settings& s, const std::string& repository);
// The outcome of a command that carried on past damaged objects after printing everything else:
// success when there are none, else ErrorCode::corrupt (exit 6) naming them and the way out.
Status damaged_objects_status(const std::vector<repo::DamagedObject>& damaged);

Status run_repair_command(const Settings& s, const RepairArgs& args, OutputFormat format);
Status run_expire_command(const Settings& s, const ExpireArgs& args, OutputFormat format);
Status run_pin_command(const Settings& s, const PinArgs& args, OutputFormat format);
Status run_restore_command(const Settings& s, const RestoreArgs& args, OutputFormat format);
Status run_validate_command(const Settings& s, const ValidateArgs& args, OutputFormat format);
Status run_verify_command(const Settings& s, const VerifyArgs& args, OutputFormat format);
Status run_drill_command(const Settings& s, const DrillArgs& args, OutputFormat format);
Status run_drills_command(const Settings& s, OutputFormat format);
Status run_report_command(const Settings& s, const ReportArgs& args, OutputFormat format);
Status run_copy_command(const Settings& s, const CopyArgs& args, OutputFormat format);
Status run_demo_command(const Settings& s, const DemoArgs& args, OutputFormat format);
// The agent (src/agent/): runs until SIGTERM or SIGINT (then returns success), reloads on
// SIGHUP. `flags` are the settings given on the command line; `config_file` the --config given
// ("" for LIFEBOAT_CONFIG).
Status run_agent_command(const std::map<std::string, std::string>& flags,
                         const std::string& config_file);
// The running agent's state, from its /api/status (ErrorCode::unavailable when none answers).
Status run_status_command(const std::string& config_file, OutputFormat format);
// One test notification to every alert target of the configuration.
Status run_alert_test_command(const std::string& config_file, OutputFormat format);
Status run_logical_setup_command(const Settings& s, const LogicalSetupArgs& args,
                                 OutputFormat format);
// `config_file` is the --config given (or ""), for the archive_command check suggests.
Status run_check_command(const Settings& s, const CheckArgs& args, const std::string& config_file,
                         OutputFormat format);

}  // namespace lifeboat::cli
