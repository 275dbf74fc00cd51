#include "cli/commands.hpp"

#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/restore.hpp"
#include "engine/validate.hpp"
#include "engine/verify.hpp"
#include "engine/wal_transfer.hpp"
#include "repository/repository.hpp"

namespace lifeboat::cli {

using nlohmann::json;

namespace {

void print_json(const json& j) {
    std::printf("%s\n", j.dump(2).c_str());
}

Result<std::string> require(const Settings& s, const std::string& name) {
    auto value = s.find(name);
    if (!value) {
        return fail(ErrorCode::usage, "--{} is required (or set {} or the config file)", name,
                    env_name(name));
    }
    return *value;
}

std::string optional_time(const std::optional<Timestamp>& t) {
    return t ? format_iso8601(*t) : std::string("-");
}

json time_or_null(const std::optional<Timestamp>& t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

fs::path self_binary() {
    std::error_code ec;
    auto path = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("lifeboat") : path;
}

}  // namespace

Status run_repo_init(const Settings& s, OutputFormat format) {
    repo::RepositoryConfig config;
    config.created = system_clock().now();
    config.compression_level = static_cast<int>(LB_TRY(s.get_unsigned("compress-level")));
    config.block_size = LB_TRY(s.get_unsigned("block-size"));
    auto repository = LB_TRY(repo::Repository::init(LB_TRY(require(s, "repo")), config));
    if (format == OutputFormat::json) {
        print_json({{"repository", repository.location()},
                    {"repository_id", repository.config().repository_id}});
    } else {
        std::printf("created repository %s (id %s)\n", repository.location().c_str(),
                    repository.config().repository_id.c_str());
    }
    return {};
}

Status run_backup_command(const Settings& s, const BackupArgs& args, OutputFormat format) {
    engine::BackupOptions options;
    options.repository = LB_TRY(require(s, "repo"));
    options.conninfo = LB_TRY(require(s, "pg"));
    if (auto pgdata = s.find("pgdata")) options.pgdata = *pgdata;
    options.jobs = LB_TRY(s.get_unsigned("jobs"));
    options.archive_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("archive-timeout")));
    for (const auto& tag : args.tags) {
        const auto eq = tag.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(ErrorCode::usage, "tag '{}' must be KEY=VALUE", tag);
        }
        options.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
    }
    options.type = args.type == "full" ? engine::BackupType::full : engine::BackupType::incremental;
    ProgressLine progress;
    options.progress = progress.callback();
    auto outcome = engine::run_backup(options);
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    const auto& m = outcome->manifest;
    for (const auto& w : outcome->warnings)
        std::fprintf(stderr, "lifeboat: warning: %s\n", w.c_str());
    if (format == OutputFormat::json) {
        json failures = json::array();
        for (const auto& f : m.page_checksum_failures)
            failures.push_back({{"path", f.path}, {"block", f.block}});
        print_json({{"id", m.id},
                    {"start_time", format_iso8601(m.start_time)},
                    {"stop_time", format_iso8601(m.stop_time)},
                    {"start_lsn", m.start_lsn},
                    {"stop_lsn", m.stop_lsn},
                    {"timeline", m.timeline},
                    {"files", m.stats.files},
                    {"data_bytes", m.stats.data_bytes},
                    {"stored_bytes", m.stats.stored_bytes},
                    {"new_blocks", m.stats.new_blocks},
                    {"read_bytes", m.stats.read_bytes},
                    {"reused_files", m.stats.reused_files},
                    {"duration_seconds", m.stats.duration_seconds},
                    {"adopted_packs", outcome->adopted_packs},
                    {"tags", m.tags},
                    {"page_checksum_failures", failures}});
    } else {
        std::printf("%s\n", m.id.c_str());
        std::fprintf(stderr,
                     "backup %s: %llu files (%llu unchanged), %s of data, %s read, %s stored, %s "
                     "(WAL %s .. %s)\n",
                     m.id.c_str(), static_cast<unsigned long long>(m.stats.files),
                     static_cast<unsigned long long>(m.stats.reused_files),
                     human_bytes(m.stats.data_bytes).c_str(),
                     human_bytes(m.stats.read_bytes).c_str(),
                     human_bytes(m.stats.stored_bytes).c_str(),
                     format_seconds(m.stats.duration_seconds).c_str(), m.start_wal.c_str(),
                     m.stop_wal.c_str());
    }
    if (!m.page_checksum_failures.empty()) {
        return fail(ErrorCode::check_failed,
                    "backup {} was stored, but {} page(s) failed checksum verification (listed "
                    "above): the source cluster has corrupt data",
                    m.id, m.page_checksum_failures.size());
    }
    return {};
}

Status run_wal_push(const Settings& s, const WalPushArgs& args) {
    auto outcome = LB_TRY(engine::wal_push(LB_TRY(require(s, "repo")), args.path));
    (void)outcome;
    return {};
}

Status run_wal_fetch(const Settings& s, const WalFetchArgs& args) {
    return engine::wal_fetch({.repository = LB_TRY(require(s, "repo")),
                              .name = args.name,
                              .destination = args.destination,
                              .prefetch = args.prefetch});
}

Status run_list(const Settings& s, OutputFormat format) {
    const engine::Catalog catalog = LB_TRY(engine::load_catalog(LB_TRY(require(s, "repo"))));
    const auto& window = catalog.window;
    if (format == OutputFormat::json) {
        json backups = json::array();
        for (std::size_t i = 0; i < catalog.backups.size(); ++i) {
            const auto& m = catalog.backups[i];
            const auto& reach = window.backups[i];
            backups.push_back({{"id", m.id},
                               {"start_time", format_iso8601(m.start_time)},
                               {"stop_time", format_iso8601(m.stop_time)},
                               {"start_lsn", m.start_lsn},
                               {"stop_lsn", m.stop_lsn},
                               {"timeline", m.timeline},
                               {"data_bytes", m.stats.data_bytes},
                               {"stored_bytes", m.stats.stored_bytes},
                               {"files", m.stats.files},
                               {"tags", m.tags},
                               {"restorable", reach.consistent},
                               {"reach_from", format_iso8601(reach.from)},
                               {"reach_to", time_or_null(reach.to)}});
        }
        print_json({{"repository", catalog.repository},
                    {"backups", backups},
                    {"window",
                     {{"earliest", time_or_null(window.earliest)},
                      {"latest", time_or_null(window.latest)},
                      {"wal_files", window.wal_files},
                      {"last_segment", window.last_segment},
                      {"gap", window.gap},
                      {"first_missing_segment", window.first_missing_segment.empty()
                                                    ? json(nullptr)
                                                    : json(window.first_missing_segment)}}}});
        return {};
    }
    std::printf("repository %s\n", catalog.repository.c_str());
    if (catalog.backups.empty()) {
        std::printf("no backups yet\n");
    } else {
        std::printf("%-20s %-28s %-28s %-12s %-12s %3s %10s %10s  %s\n", "ID", "START", "STOP",
                    "START LSN", "STOP LSN", "TL", "DATA", "STORED", "TAGS");
        for (std::size_t i = 0; i < catalog.backups.size(); ++i) {
            const auto& m = catalog.backups[i];
            std::string tags;
            for (const auto& [k, v] : m.tags)
                tags += (tags.empty() ? "" : ",") + k + "=" + v;
            if (!window.backups[i].consistent)
                tags += (tags.empty() ? "" : " ") + std::string("[WAL missing]");
            std::printf("%-20s %-28s %-28s %-12s %-12s %3u %10s %10s  %s\n", m.id.c_str(),
                        format_iso8601(m.start_time).c_str(), format_iso8601(m.stop_time).c_str(),
                        m.start_lsn.c_str(), m.stop_lsn.c_str(), m.timeline,
                        human_bytes(m.stats.data_bytes).c_str(),
                        human_bytes(m.stats.stored_bytes).c_str(), tags.c_str());
        }
    }
    std::printf("restorable window: %s .. %s\n", optional_time(window.earliest).c_str(),
                optional_time(window.latest).c_str());
    std::printf("archived WAL files: %zu", window.wal_files);
    if (window.gap) {
        std::printf("; GAP: segment %s is missing, so WAL after it cannot be replayed",
                    window.first_missing_segment.c_str());
    } else if (!window.last_segment.empty()) {
        std::printf("; newest usable segment %s", window.last_segment.c_str());
    }
    std::printf("\n");
    return {};
}

Status run_restore_command(const Settings& s, const RestoreArgs& args, OutputFormat format) {
    engine::RestoreOptions options;
    options.repository = LB_TRY(require(s, "repo"));
    if (args.to.empty()) return fail(ErrorCode::usage, "--to TIME|latest is required");
    if (args.to != "latest") options.target = LB_TRY(parse_iso8601(args.to));
    if (!args.backup.empty()) options.backup_id = args.backup;
    if (args.target_dir.empty()) return fail(ErrorCode::usage, "--target-dir DIR is required");
    options.target_dir = args.target_dir;
    if (args.port != 0) {
        if (args.port < 1 || args.port > 65535)
            return fail(ErrorCode::usage, "--port {} is not a TCP port", args.port);
        options.port = args.port;
    }
    options.start = args.start ? engine::StartServer::yes : engine::StartServer::no;
    options.archiving = args.archive ? engine::NewInstanceArchiving::keep_source_settings
                                     : engine::NewInstanceArchiving::off;
    for (const auto& spec : args.tablespaces) {
        const auto eq = spec.find('=');
        char* end = nullptr;
        const unsigned long oid =
            eq == std::string::npos ? 0 : std::strtoul(spec.c_str(), &end, 10);
        if (eq == std::string::npos || oid == 0 || end != spec.c_str() + eq) {
            return fail(ErrorCode::usage, "--tablespace '{}' must be OID=DIR", spec);
        }
        options.tablespace_dirs[static_cast<std::uint32_t>(oid)] = spec.substr(eq + 1);
    }
    if (auto pgdata = s.find("pgdata")) options.source_pgdata = *pgdata;
    if (auto bin = s.find("pg-bin")) options.pg_bin = *bin;
    options.run_as_user = s.get("run-as");
    options.jobs = LB_TRY(s.get_unsigned("jobs"));
    options.lifeboat_binary = self_binary();
    ProgressLine progress;
    options.progress = progress.callback();
    auto outcome = engine::run_restore(options);
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    const auto& o = *outcome;
    if (format == OutputFormat::json) {
        json j = {{"backup", o.backup_id},
                  {"target", o.target ? json(format_iso8601(*o.target)) : json("latest")},
                  {"target_dir", o.target_dir.string()},
                  {"files", o.files},
                  {"bytes", o.bytes},
                  {"started", o.started},
                  {"phases", {{"files_seconds", o.files_seconds}}},
                  {"total_seconds", o.total_seconds}};
        if (o.started) {
            j["phases"]["replay_seconds"] = o.replay_seconds;
            j["phases"]["ready_seconds"] = o.ready_seconds;
            j["port"] = o.port;
            j["conninfo"] = o.conninfo;
        }
        print_json(j);
        return {};
    }
    std::printf("restored backup %s into %s (target %s)\n", o.backup_id.c_str(),
                o.target_dir.string().c_str(),
                o.target ? format_iso8601(*o.target).c_str() : "latest");
    std::printf("  files       %10s  (%llu files, %s)\n", format_seconds(o.files_seconds).c_str(),
                static_cast<unsigned long long>(o.files), human_bytes(o.bytes).c_str());
    if (o.started) {
        std::printf("  WAL replay  %10s\n", format_seconds(o.replay_seconds).c_str());
        std::printf("  ready       %10s\n", format_seconds(o.ready_seconds).c_str());
        std::printf("  total (RTO) %10s\n", format_seconds(o.total_seconds).c_str());
        std::printf("  running on port %d: psql \"%s\"\n", o.port, o.conninfo.c_str());
    } else {
        std::printf("  start it with: pg_ctl -D %s start   (recovery runs on first start)\n",
                    o.target_dir.string().c_str());
    }
    return {};
}

Status run_validate_command(const Settings& s, const ValidateArgs& args, OutputFormat format) {
    engine::ValidateOptions options;
    options.conninfo = LB_TRY(require(s, "pg"));
    if (!args.checks.empty()) options.checks_file = args.checks;
    if (!args.baseline.empty()) options.baseline_file = args.baseline;
    if (!args.target.empty()) options.target = LB_TRY(parse_iso8601(args.target));
    if (args.all_databases) options.databases = engine::ValidateOptions::Databases::all;
    const auto report = LB_TRY(engine::run_validation(options));
    if (format == OutputFormat::json) {
        std::printf("%s\n", report.to_json().c_str());
    } else {
        std::printf("%s", report.to_text().c_str());
    }
    if (!report.passed()) return fail(ErrorCode::check_failed, "validation failed");
    return {};
}

Status run_verify_command(const Settings& s, const VerifyArgs& args, OutputFormat format) {
    engine::VerifyOptions options;
    options.repository = LB_TRY(require(s, "repo"));
    if (!args.backup.empty()) options.backup_id = args.backup;
    options.jobs = LB_TRY(s.get_unsigned("jobs"));
    ProgressLine progress;
    options.progress = progress.callback();
    auto report = engine::run_verify(options);
    progress.clear();
    if (!report) return std::unexpected(report.error());
    if (format == OutputFormat::json) {
        json problems = json::array();
        for (const auto& p : report->problems) {
            problems.push_back(
                {{"object", p.object}, {"message", p.message}, {"affected", p.affected}});
        }
        print_json({{"ok", report->ok()},
                    {"backups", report->backups},
                    {"packs", report->packs},
                    {"blocks", report->blocks},
                    {"wal_files", report->wal_files},
                    {"unreferenced_packs", report->unreferenced_packs},
                    {"problems", problems}});
    } else {
        for (const auto& p : report->problems) {
            std::printf("PROBLEM %s: %s\n", p.object.c_str(), p.message.c_str());
            for (const auto& a : p.affected)
                std::printf("  affects %s\n", a.c_str());
        }
        std::printf("checked %zu backups, %zu packs, %zu blocks, %zu WAL files", report->backups,
                    report->packs, report->blocks, report->wal_files);
        if (report->unreferenced_packs) {
            std::printf(" (%zu packs from interrupted backups, reused by the next backup)",
                        report->unreferenced_packs);
        }
        std::printf(": %s\n", report->ok() ? "OK" : "DAMAGED");
    }
    if (!report->ok()) {
        return fail(ErrorCode::corrupt, "verify found {} problem(s)", report->problems.size());
    }
    return {};
}

}  // namespace lifeboat::cli
