// lifeboat: the command-line entry point. Parses options (CLI11), resolves settings
// (flag > LIFEBOAT_<NAME> > --config file > default), runs one command, and maps its error to
// the documented exit status with a one-line message on stderr.
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/leading_options.hpp"
#include "cli/settings.hpp"
#include "cli/wiring.hpp"
#include "util/exceptions.hpp"

using namespace lifeboat;
using namespace lifeboat::cli;

namespace {

constexpr const char* k_version = "0.1.0";
constexpr int k_wal_fetch_abort_status = 128;

struct Common {
    std::map<std::string, std::string> flags;
    std::string config;
    bool json = false;
};

// Adds the settings a command uses as --flags that record only when given.
void add_settings(CLI::App* cmd, Common& common, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        for (const auto& spec : setting_specs()) {
            if (spec.name != name) continue;
            if (spec.type == SettingType::flag) {
                cmd->add_flag_function(
                    "--" + spec.name,
                    [&common, n = spec.name](std::int64_t) { common.flags[n] = "true"; },
                    spec.help + " [env " + env_name(spec.name) + "]");
                continue;
            }
            cmd->add_option_function<std::string>(
                   "--" + spec.name,
                   [&common, n = spec.name](const std::string& v) { common.flags[n] = v; },
                   spec.help + " [env " + env_name(spec.name) + "]")
                ->type_name(spec.type == SettingType::count      ? "N"
                            : spec.type == SettingType::duration ? "DURATION"
                                                                 : "TEXT");
        }
    }
    cmd->add_option("--config", common.config, "TOML configuration file [env LIFEBOAT_CONFIG]");
}

void add_json(CLI::App* cmd, Common& common) {
    cmd->add_flag("--json", common.json, "print the result as JSON");
}

// The shape of an option as CLI11 consumes it (App::_parse_arg): the values it takes per
// occurrence, and whether it may be given twice (its multi-option policy).
OptionShape shape_of(const CLI::Option& o) {
    int max_values = o.get_items_expected_max();
    // Containers take one value per occurrence unless they allow extra arguments.
    if (max_values >= CLI::detail::expected_max_vector_size / 16 && !o.get_allow_extra_args())
        max_values = o.get_type_size_max() * o.get_expected_min();
    const bool once = max_values > 0 && o.get_expected_max() <= 1 &&
                      o.get_multi_option_policy() == CLI::MultiOptionPolicy::Throw;
    return {.name = o.get_name(),
            .long_names = o.get_lnames(),
            .short_names = o.get_snames(),
            .min_values = std::min(o.get_type_size_min(), o.get_items_expected_min()),
            .max_values = max_values,
            .repeat = once ? Repeat::once : Repeat::many};
}

std::vector<OptionShape> options_of(const CLI::App& app) {
    std::vector<OptionShape> out;
    for (const CLI::Option* o : app.get_options())
        if (!o->get_lnames().empty() || !o->get_snames().empty()) out.push_back(shape_of(*o));
    return out;
}

// What put_leading_options_after_command needs to know, from the definitions themselves.
CommandLineShape shape_of(const CLI::App& app) {
    CommandLineShape shape{.program_options = options_of(app), .commands = {}};
    for (const CLI::App* sub : app.get_subcommands({})) {
        CommandShape command{.names = {sub->get_name()}, .options = options_of(*sub)};
        for (const auto& alias : sub->get_aliases())
            command.names.push_back(alias);
        shape.commands.push_back(std::move(command));
    }
    return shape;
}

}  // namespace

int main(int argc, char** argv) {
    // Buffers of 1 MiB and more (ranged reads, WAL segments) come from mmap and go back to the
    // system when freed. glibc otherwise raises this threshold as such buffers are freed, and
    // serves them from per-thread arenas that keep the memory: with many reads in flight the
    // resident size grows well past the 64 MiB target though little is live.
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    lifeboat::cli::register_source_drivers();
    CLI::App app{
        "Lifeboat: PostgreSQL backup, point-in-time recovery and restore drills.\n"
        "Exit status: 0 ok, 1 not found, 2 usage, 3 config, 4 not a repository, 5 repository,\n"
        "6 corrupt, 7 conflict, 8 database, 9 outside window, 10 check failed, 11 io, 13 "
        "unavailable,\n"
        "70 internal.",
        "lifeboat"};
    app.require_subcommand(1);
    app.set_version_flag("--version", k_version);
    Common common;

    RepoInitArgs init_args;
    auto* init = app.add_subcommand("repo-init", "create a repository");
    add_settings(init, common, {"repo", "compress-level", "block-size", "key-file", "read-only"});
    init->add_flag("--encrypt", init_args.encrypt,
                   "encrypt everything stored (AES-256-GCM) with a key from --key-file or "
                   "LIFEBOAT_PASSPHRASE");
    init->add_option("--object-lock-days", init_args.object_lock_days,
                     "S3 only, in a bucket created with object lock: every object is kept, "
                     "undeletable, for N days after its write (1..36500)");
    init->add_option("--object-lock-mode", init_args.object_lock_mode,
                     "with --object-lock-days: governance (default; users allowed to bypass it "
                     "may still delete) or compliance (nobody can delete before the date)")
        ->check(CLI::IsMember({"governance", "compliance"}));
    add_json(init, common);

    BackupArgs backup_args;
    auto* backup = app.add_subcommand("backup", "back up a running PostgreSQL 15");
    add_settings(backup, common,
                 {"repo", "pg", "mongo", "source-kind", "pgdata", "jobs", "archive-timeout",
                  "key-file", "read-only", "pg-timeout", "split-table-mib"});
    backup->add_option("--tag", backup_args.tags, "KEY=VALUE label (repeatable)");
    backup
        ->add_option("--type", backup_args.type,
                     "incremental (default: re-read only files changed since the previous "
                     "backup) or full (re-read every file)")
        ->check(CLI::IsMember({"incremental", "incr", "full"}));
    backup->add_flag("--verify-unchanged", backup_args.verify_unchanged,
                     "read again every block the WAL summaries say is unchanged and compare "
                     "(by default a 1% sample, at most 64 blocks)");
    backup->add_flag("--pin", backup_args.pin, "pin the new backup: never expired");
    backup->add_option("--until", backup_args.pin_until,
                       "with --pin: when the pin ends (time with zone, or YYYY-MM-DD: through "
                       "that UTC day)");
    add_json(backup, common);

    WalPushArgs push_args;
    auto* push = app.add_subcommand(
        "wal-push", "archive one WAL file (archive_command = 'lifeboat wal-push %p')");
    add_settings(push, common, {"repo", "key-file", "read-only"});
    push->add_option("path", push_args.path, "WAL file to archive (%p)")->required();

    // Stores a change log object a test built (tests/e2e/logical_log.py); not for people.
    LogicalPushArgs logical_push_args;
    auto* logical_push = app.add_subcommand("logical-push", "");
    logical_push->group("");
    add_settings(logical_push, common, {"repo", "key-file"});
    logical_push->add_option("name", logical_push_args.name)->required();
    logical_push->add_option("path", logical_push_args.path)->required();

    WalFetchArgs fetch_args;
    auto* fetch = app.add_subcommand("wal-fetch",
                                     "restore one WAL file (restore_command = 'lifeboat wal-fetch "
                                     "%f %p'); exit 1 when not archived");
    add_settings(fetch, common, {"repo", "key-file", "read-only"});
    fetch->add_option("name", fetch_args.name, "WAL file name (%f)")->required();
    fetch->add_option("destination", fetch_args.destination, "where to write it (%p)")->required();
    fetch->add_option("--prefetch", fetch_args.prefetch,
                      "segments to fetch ahead in the background while PostgreSQL replays "
                      "(0: none)");

    // Started by wal-fetch in the background; not for people (hidden from --help).
    WalPrefetchArgs prefetch_args;
    auto* prefetch = app.add_subcommand("wal-prefetch", "");
    prefetch->group("");
    add_settings(prefetch, common, {"repo", "key-file", "read-only"});
    prefetch->add_option("--spool", prefetch_args.spool)->required();
    prefetch->add_option("--after", prefetch_args.after)->required();
    prefetch->add_option("--segment-size", prefetch_args.segment_size)->required();
    prefetch->add_option("--count", prefetch_args.count)->required();

    ListArgs list_args;
    auto* list = app.add_subcommand("list", "list backups and the restorable window (alias: info)");
    list->alias("info");
    add_settings(list, common, {"repo", "key-file", "read-only"});
    list->add_option("--tag", list_args.tags,
                     "show only backups with this KEY=VALUE tag (repeatable)");
    add_json(list, common);

    RestoreArgs restore_args;
    auto* restore =
        app.add_subcommand("restore", "restore into a new instance, to a point in time");
    add_settings(restore, common,
                 {"repo", "pgdata", "pg-bin", "run-as", "jobs", "io-depth", "key-file", "read-only",
                  "replay-shared-buffers", "restore-writes", "restore-checks"});
    restore
        ->add_option("--to", restore_args.to,
                     "ISO 8601 time with zone inside the window `list` prints (both ends "
                     "included), 'latest' (end of the archive), or 'consistent' (the backup "
                     "alone)")
        ->required();
    restore->add_option("--backup", restore_args.backup,
                        "restore this backup (default: newest that reaches --to)");
    restore->add_option("--target-dir", restore_args.target_dir, "new, empty data directory")
        ->required();
    restore->add_option("--port", restore_args.port,
                        "port of the new instance (default: with --start a free one, else the "
                        "source's)");
    restore->add_flag("--start", restore_args.start,
                      "start it and wait until it accepts read-write connections");
    restore->add_flag("--archive", restore_args.archive,
                      "keep the source's archive settings (default: archive_mode = off)");
    restore->add_option("--tablespace", restore_args.tablespaces,
                        "OID=DIR new location of a tablespace (repeatable)");
    restore->add_option("--timeline", restore_args.timeline,
                        "timeline to follow: an id, 'current' (the backup's own) or 'latest' "
                        "(default: the backup's own, or the one later timeline reaching --to)");
    restore->add_option("--target-pg", restore_args.target_pg,
                        "postgres-logical backups: load into this existing, empty database "
                        "(connection string) instead of a new instance; --target-dir then only "
                        "stages the backup's files");
    restore->add_option("--only", restore_args.only,
                        "postgres-logical backups: restore this one table (SCHEMA.TABLE, or "
                        "TABLE in public) and its changes; mongodb backups: this database or "
                        "collection (DB or DB.COLL)");
    restore->add_option("--target-mongo", restore_args.target_mongo,
                        "mongodb backups: load into this running server (MongoDB URI); it must "
                        "hold none of the restored databases. --target-dir only stages the "
                        "backup's files");
    add_json(restore, common);

    ValidateArgs validate_args;
    auto* validate = app.add_subcommand(
        "validate", "check a running instance: row counts, foreign keys, indexes, user checks");
    add_settings(validate, common,
                 {"pg", "mongo", "source-kind", "pg-timeout", "repo", "key-file", "read-only"});
    validate->get_option("--pg")->description(
        "libpq connection string of the instance to check (normally the restored one; any "
        "database of it) [env LIFEBOAT_PG]");
    validate->add_option("--checks", validate_args.checks, "TOML file of user checks");
    validate->add_option("--baseline", validate_args.baseline,
                         "JSON from an earlier `validate --json` to compare row counts with");
    validate->add_option("--target", validate_args.target,
                         "the restore's target, for point-in-time and 'expect = \"<= target\"' "
                         "checks: ISO 8601 time with zone, or 'latest' (the end of --repo's "
                         "restorable window)");
    validate->add_option("--database", validate_args.databases,
                         "check only this database (repeatable; default: every database that "
                         "accepts connections)");
    validate->add_option("--backup", validate_args.backup,
                         "--source-kind mongodb: compare with what this backup of --repo recorded "
                         "(default: the newest)");
    validate->add_option("--target-dir", validate_args.target_dir,
                         "--source-kind mongodb: the --target-dir of the restore that loaded the "
                         "server: expect what its change events left (default --backup: the "
                         "restored one)");
    validate->add_flag("--all-databases", validate_args.all_databases,
                       "check every database that accepts connections (the default)");
    add_json(validate, common);

    VerifyArgs verify_args;
    auto* verify = app.add_subcommand(
        "verify", "read back and check everything a backup (or the repository) needs");
    add_settings(verify, common, {"repo", "jobs", "io-depth", "key-file", "read-only"});
    verify->add_option("--backup", verify_args.backup, "only this backup");
    add_json(verify, common);

    ExpireArgs expire_args;
    auto* expire = app.add_subcommand(
        "expire", "apply the retention policy: remove old backups, their WAL and unused data");
    add_settings(expire, common,
                 {"repo", "key-file", "read-only", "jobs", "retention-window", "keep-min",
                  "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"});
    expire->add_flag("--dry-run", expire_args.dry_run,
                     "say what would be removed and how many bytes that frees; change nothing");
    expire->add_option("--repack-below", expire_args.repack_below,
                       "rewrite packs whose live fraction is below this (0..1, default 0.5)");
    expire->add_option("--lock-wait", expire_args.lock_wait,
                       "seconds to wait for running backups and restores (default 3600)");
    add_json(expire, common);

    RepairArgs repair_args;
    auto* repair = app.add_subcommand(
        "repair", "move damaged objects aside and rebuild the index from the packs");
    add_settings(repair, common, {"repo", "key-file", "read-only"});
    repair->add_flag("--dry-run", repair_args.dry_run, "say what would be done; change nothing");
    repair->add_option("--lock-wait", repair_args.lock_wait,
                       "seconds to wait for running backups and restores (default 3600)");
    add_json(repair, common);

    PinArgs pin_args, unpin_args;
    auto* pin =
        app.add_subcommand("pin", "keep a backup past retention (for ever, or --until DATE)");
    add_settings(pin, common, {"repo", "key-file", "read-only"});
    pin->add_option("backup", pin_args.backup, "backup id")->required();
    pin->add_option("--until", pin_args.until,
                    "when the pin ends: ISO 8601 time with zone, or YYYY-MM-DD (through that UTC "
                    "day)");
    pin->add_flag("--legal-hold", pin_args.legal_hold,
                  "also put an object-lock legal hold on every object the backup needs (S3 "
                  "bucket with object lock): the store refuses to delete them until `unpin`");
    add_json(pin, common);
    unpin_args.unpin = true;
    auto* unpin = app.add_subcommand("unpin", "remove a backup's pin");
    add_settings(unpin, common, {"repo", "key-file", "read-only"});
    unpin->add_option("backup", unpin_args.backup, "backup id")->required();
    add_json(unpin, common);

    DrillArgs drill_args;
    auto* drill = app.add_subcommand(
        "drill",
        "restore test: restore to a point into a scratch instance, validate, time, record");
    add_settings(drill, common,
                 {"repo", "pg-bin", "run-as", "jobs", "io-depth", "key-file", "read-only",
                  "pg-timeout", "replay-shared-buffers", "restore-writes", "restore-checks"});
    drill->add_option("--to", drill_args.to,
                      "as for restore: ISO 8601 time with zone, 'latest' or 'consistent'");
    drill->add_option("--ago", drill_args.ago, "how far back, e.g. 30m, 1h, 2w (default 1h)");
    drill->add_flag("--latest", drill_args.latest, "same as --to latest");
    drill->add_option("--timeline", drill_args.timeline,
                      "timeline to follow, as for restore (an id, 'current' or 'latest')");
    drill->add_option("--checks", drill_args.checks, "TOML file of user checks");
    drill->add_option("--database", drill_args.databases,
                      "validate only this database (repeatable; default: every database that "
                      "accepts connections)");
    drill->add_flag("--keep", drill_args.keep,
                    "keep the scratch directory (the server is stopped)");
    drill->add_option("--scratch-dir", drill_args.scratch_dir,
                      "where the scratch directory is created (default: $TMPDIR, else /tmp)");
    drill->add_option("--target-mongo", drill_args.target_mongo,
                      "mongodb repositories (required): restore into and validate this running, "
                      "empty server (MongoDB URI)");
    add_json(drill, common);
    auto* drills = app.add_subcommand("drills", "list recorded drills");
    add_settings(drills, common, {"repo", "key-file", "read-only"});
    add_json(drills, common);

    ReportArgs report_args;
    auto* report =
        app.add_subcommand("report", "the disaster-recovery report (markdown, html or json)");
    add_settings(report, common, {"repo", "key-file", "read-only"});
    report
        ->add_option("--format", report_args.format,
                     "markdown (default), html (one self-contained page) or json (as --json)")
        ->check(CLI::IsMember({"markdown", "html", "json"}));
    add_json(report, common);

    CopyArgs copy_args;
    auto* copy = app.add_subcommand(
        "copy", "copy backups and their WAL to another repository (only missing blocks travel)");
    add_settings(copy, common, {"jobs", "io-depth", "key-file", "read-only"});
    copy->add_option("--from", copy_args.from, "source repository (configured name or location)")
        ->required();
    copy->add_option("--to", copy_args.to, "destination repository (configured name or location)")
        ->required();
    copy->add_option("--backup", copy_args.backup, "copy only this backup");
    copy->add_option("--from-key-file", copy_args.from_key_file,
                     "key file of an encrypted source (default: its key_file, else --key-file)");
    copy->add_option(
        "--to-key-file", copy_args.to_key_file,
        "key file of an encrypted destination (default: its key_file, else --key-file)");
    copy->add_flag("--all", copy_args.all, "copy every backup and all archived WAL (the default)");
    add_json(copy, common);

    CheckArgs check_args;
    auto* check = app.add_subcommand(
        "check",
        "check that WAL archiving works: switch WAL on the source, wait for the segment in every "
        "repository wal-push archives into, report pg_stat_archiver");
    add_settings(check, common, {"repo", "pg", "key-file", "read-only", "pg-timeout"});
    check->add_option("--timeout", check_args.timeout,
                      "seconds to wait for the segment to reach the repositories (default 60)");
    add_json(check, common);

    auto* agent_cmd = app.add_subcommand(
        "agent",
        "run schedules (backup, expire, copy, verify, drill), serve /metrics, /api/status and a "
        "status page, send alerts; until SIGTERM (SIGHUP reloads the configuration)");
    add_settings(agent_cmd, common,
                 {"repo", "pg", "pgdata", "jobs", "archive-timeout", "key-file", "read-only",
                  "pg-timeout", "pg-bin", "run-as"});
    auto* status_cmd =
        app.add_subcommand("status", "the running agent's state: readiness, RPO, jobs, alerts");
    status_cmd->add_option("--config", common.config,
                           "TOML configuration file of the agent [env LIFEBOAT_CONFIG]");
    add_json(status_cmd, common);
    auto* alert_test =
        app.add_subcommand("alert-test", "send a test notification to every alert target");
    alert_test->add_option("--config", common.config,
                           "TOML configuration file with [alerts] [env LIFEBOAT_CONFIG]");
    add_json(alert_test, common);
    LogicalSetupArgs logical_setup_args;
    auto* logical_setup = app.add_subcommand(
        "logical-setup",
        "check what a source needs for logical backups (postgres-logical) and print, or with "
        "--apply create, the publication");
    add_settings(logical_setup, common, {"pg", "pg-timeout"});
    logical_setup->add_flag("--apply", logical_setup_args.apply,
                            "create what is missing (as the source's admin role)");
    add_json(logical_setup, common);

    MongoPreflightArgs mongo_preflight_args;
    auto* mongo_preflight = app.add_subcommand(
        "mongo-preflight",
        "check what a mongodb source offers a backup: replica set, change streams (and how to "
        "enable them on DocumentDB), privileges; exit 10 while change capture is impossible");
    add_settings(mongo_preflight, common, {"mongo"});
    add_json(mongo_preflight, common);

    CaptureArgs capture_args;
    auto* capture = app.add_subcommand(
        "capture",
        "store the change stream of a postgres-logical or mongodb source (continuing its newest "
        "backup) until SIGTERM or SIGINT");
    add_settings(capture, common,
                 {"repo", "pg", "mongo", "source-kind", "key-file", "pg-timeout", "flush-interval",
                  "heartbeat-interval"});
    add_json(capture, common);

    WalStreamArgs wal_stream_args;
    auto* wal_stream = app.add_subcommand(
        "wal-stream",
        "store the WAL of a postgres-physical source as it is written, over streaming "
        "replication through a physical slot, until SIGTERM or SIGINT");
    add_settings(wal_stream, common,
                 {"repo", "pg", "pg-fallback", "reconnect-timeout", "slot", "key-file",
                  "flush-interval", "synchronous"});
    add_json(wal_stream, common);

    DemoArgs demo_args;
    auto* demo =
        app.add_subcommand("demo", "self-contained demonstration in a temporary directory");
    add_settings(demo, common, {"pg-bin", "run-as", "jobs"});
    demo->add_flag("--keep", demo_args.keep, "keep the temporary directory");
    add_json(demo, common);

    // `lifeboat --repo R list` means `lifeboat list --repo R` (docs/cli.md).
    std::vector<std::string> words(argv + 1, argv + argc);
    auto ordered = put_leading_options_after_command(shape_of(app), words);
    if (!ordered) {
        std::fprintf(stderr, "lifeboat: error: %s\n", ordered.error().message.c_str());
        return exit_status(ErrorCode::usage);
    }
    // The command named on the line, for pointing at its own --help.
    std::string command_name;
    for (const auto& word : *ordered) {
        if (word.starts_with("-")) continue;  // --version, which takes no value
        for (const auto* sub : app.get_subcommands({}))
            // check_name: the name or an alias (`info`).
            if (sub->check_name(word)) command_name = word;
        break;
    }
    const std::string help_hint =
        command_name.empty() ? "lifeboat --help" : "lifeboat " + command_name + " --help";
    try {
        // CLI11 takes the words last first.
        std::vector<std::string> reversed(ordered->rbegin(), ordered->rend());
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "lifeboat: error: %s (see %s)\n", e.what(), help_hint.c_str());
        return exit_status(ErrorCode::usage);
    }

    const OutputFormat format = common.json ? OutputFormat::json : OutputFormat::text;
    // SIGINT/SIGTERM cancel the command (exit 12) rather than kill it. Not for the commands
    // PostgreSQL runs (wal-push, wal-fetch and the prefetcher): the server stops them with SIGTERM
    // and expects them gone, as the default action does.
    if (!*push && !*fetch && !*prefetch) start_signal_thread();
    auto run = [&]() -> Status {
        // The agent's commands read the agent's sections themselves (and the agent re-reads
        // the settings on every reload).
        if (*agent_cmd) return run_agent_command(common.flags, common.config);
        if (*status_cmd) return run_status_command(common.config, format);
        if (*alert_test) return run_alert_test_command(common.config, format);
        auto settings_result = Settings::resolve(
            common.flags,
            common.config.empty() ? std::nullopt : std::optional<std::string>(common.config));
        if (!settings_result) return std::unexpected(settings_result.error());
        const Settings& settings = *settings_result;
        // Refused before anything is opened: a read-only repository is never touched by a
        // command that writes, and a read-only credential is never asked to write.
        if (settings.read_only()) {
            for (const CLI::App* writer :
                 {init, backup, push, expire, repair, pin, unpin, drill, copy, check}) {
                if (!*writer) continue;
                return fail(ErrorCode::read_only,
                            "`lifeboat {}` writes to the repository, which is opened read-only "
                            "(--read-only, LIFEBOAT_READ_ONLY or repository.read_only); read-only "
                            "mode allows list, restore, verify, validate, drills, report and "
                            "wal-fetch",
                            writer->get_name());
            }
        }
        if (*init) return run_repo_init(settings, init_args, format);
        if (*backup) return run_backup_command(settings, backup_args, format);
        if (*push) return run_wal_push(settings, push_args);
        if (*logical_push) return run_logical_push(settings, logical_push_args);
        if (*fetch) return run_wal_fetch(settings, fetch_args);
        if (*prefetch) return run_wal_prefetch(settings, prefetch_args);
        if (*list) return run_list(settings, list_args, format);
        if (*expire) return run_expire_command(settings, expire_args, format);
        if (*repair) return run_repair_command(settings, repair_args, format);
        if (*pin) return run_pin_command(settings, pin_args, format);
        if (*unpin) return run_pin_command(settings, unpin_args, format);
        if (*restore) return run_restore_command(settings, restore_args, format);
        if (*validate) return run_validate_command(settings, validate_args, format);
        if (*verify) return run_verify_command(settings, verify_args, format);
        if (*drill) return run_drill_command(settings, drill_args, format);
        if (*drills) return run_drills_command(settings, format);
        if (*report) return run_report_command(settings, report_args, format);
        if (*copy) return run_copy_command(settings, copy_args, format);
        if (*demo) return run_demo_command(settings, demo_args, format);
        if (*capture) return run_capture_command(settings, capture_args, format);
        if (*wal_stream) return run_wal_stream_command(settings, wal_stream_args, format);
        if (*logical_setup) return run_logical_setup_command(settings, logical_setup_args, format);
        if (*mongo_preflight)
            return run_mongo_preflight_command(settings, mongo_preflight_args, format);
        if (*check) {
            std::string config_file = common.config;
            if (const char* env = std::getenv("LIFEBOAT_CONFIG"); config_file.empty() && env)
                config_file = env;
            return run_check_command(settings, check_args, config_file, format);
        }
        return fail(ErrorCode::usage, "no command given");
    };
    // An exception unwinds to here (locks released) and becomes one line with its exit status.
    const Status status = call_catching_exceptions(run);
    if (!status) {
        std::string message = status.error().message;
        // A usage error names what is wrong; the command's own --help says what is right.
        if (status.error().code == ErrorCode::usage && message.find("--help") == std::string::npos)
            message += " (see " + help_hint + ")";
        std::fprintf(stderr, "lifeboat: error: %s\n", message.c_str());
        // PostgreSQL reads statuses 1..125 from restore_command as "file not archived" and ends
        // recovery there. A damaged or unreadable archive must abort recovery instead (> 125),
        // or a restore to 'latest' would silently stop early.
        if (*fetch && status.error().code != ErrorCode::not_found) return k_wal_fetch_abort_status;
        return exit_status(status.error().code);
    }
    return 0;
}
