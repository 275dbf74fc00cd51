#include "cli/commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "drivers/postgres_logical/change_log_push.hpp"
#include "drivers/postgres_physical/wal_transfer.hpp"
#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/copy.hpp"
#include "engine/restore.hpp"
#include "engine/verify.hpp"
#include "repository/repository.hpp"
#include "source/registry.hpp"
#include "sources/postgres/server_config.hpp"

namespace lifeboat::cli {

using nlohmann::json;

namespace {

void print_json(const json& j) {
    std::printf("%s\n", j.dump(2).c_str());
}

Result<std::string> require(const Settings& s, const std::string& name) {
    auto value = s.find(name);
    if (!value) {
        return fail(ErrorCode::usage,
                    "--{} is required: give it, set {}, or put it in the "
                    "--config file",
                    name, env_name(name));
    }
    return *value;
}

// A pin's end: a pin that has already ended would protect nothing, so a past time is refused
// rather than recorded.
Result<Timestamp> parse_future_time(const std::string& text) {
    const Timestamp t = LB_TRY(parse_time_or_date(text, WholeDay::end));
    const Timestamp now = system_clock().now();
    if (t < now) {
        return fail(ErrorCode::usage,
                    "--until {} is in the past (now {}): a pin must end in the future", text,
                    format_iso8601(now));
    }
    return t;
}

fs::path self_binary() {
    std::error_code ec;
    auto path = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("lifeboat") : path;
}

struct CopyEnds {
    std::string from;
    std::string to;
};

void print_copy_outcome(const engine::CopyOutcome& o, const CopyEnds& options,
                        OutputFormat format) {
    json not_copied = json::array();
    for (const auto& n : o.not_copied)
        not_copied.push_back({{"backup", n.backup_id}, {"reason", n.reason}});
    if (format == OutputFormat::json) {
        print_json({{"from", options.from},
                    {"to", options.to},
                    {"copied_backups", o.copied_backups},
                    {"present_backups", o.present_backups},
                    {"blocks_copied", o.blocks_copied},
                    {"bytes_copied", o.bytes_copied},
                    {"requests", o.requests},
                    {"bytes_fetched", o.bytes_fetched},
                    {"io_depth", o.io_depth},
                    {"blocks_present", o.blocks_present},
                    {"wal_copied", o.wal_copied},
                    {"wal_present", o.wal_present},
                    {"stream_gaps_copied", o.gaps_copied},
                    {"adopted_packs", o.adopted_packs},
                    {"pins_copied", o.pins_written},
                    {"pins_removed", o.pins_removed},
                    {"damaged", damaged_json(o.damaged)},
                    {"not_copied", not_copied}});
        return;
    }
    std::printf(
        "copied %zu backup(s) to %s (%zu already there): %llu blocks (%s), %zu WAL files "
        "(%llu blocks and %zu WAL files were already there)\n",
        o.copied_backups.size(), options.to.c_str(), o.present_backups.size(),
        static_cast<unsigned long long>(o.blocks_copied), human_bytes(o.bytes_copied).c_str(),
        o.wal_copied, static_cast<unsigned long long>(o.blocks_present), o.wal_present);
    if (o.gaps_copied > 0)
        std::printf("copied %zu WAL gap record(s) of wal-stream: the copy's window shows them\n",
                    o.gaps_copied);
    for (const auto& id : o.pins_written)
        std::printf("pinned %s in %s, as in %s\n", id.c_str(), options.to.c_str(),
                    options.from.c_str());
    for (const auto& id : o.pins_removed)
        std::printf("unpinned %s in %s: it is no longer pinned in %s\n", id.c_str(),
                    options.to.c_str(), options.from.c_str());
    for (const auto& d : o.damaged)
        std::printf("DAMAGED %s: %s\n", d.key.c_str(), d.reason.c_str());
    for (const auto& n : o.not_copied)
        std::printf("NOT COPIED %s: %s\n", n.backup_id.c_str(), n.reason.c_str());
}

}  // namespace

// A newline or tab in a tag would break every table that shows it.
Result<std::pair<std::string, std::string>> parse_tag(const std::string& tag,
                                                      std::string_view flag) {
    const auto eq = tag.find('=');
    if (eq == std::string::npos || eq == 0) {
        return fail(ErrorCode::usage, "{} '{}' must be KEY=VALUE", flag, tag);
    }
    for (const char c : tag) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            std::string shown;
            for (const char d : tag) {
                const auto b = static_cast<unsigned char>(d);
                shown += b < 0x20 || b == 0x7f ? fmt::format("\\x{:02x}", b) : std::string(1, d);
            }
            return fail(ErrorCode::usage,
                        "{} '{}' holds a control character (newline, tab, ...): keys and values "
                        "must be printable",
                        flag, shown);
        }
    }
    return std::pair{tag.substr(0, eq), tag.substr(eq + 1)};
}

json damaged_json(const std::vector<repo::DamagedObject>& damaged) {
    json out = json::array();
    for (const auto& d : damaged)
        out.push_back({{"object", d.key}, {"reason", d.reason}});
    return out;
}

void add_repository_json(json& j, const Settings& s, const std::string& location) {
    j["repository"] = location;
    const std::string name = s.repository_name(location);
    j["repository_name"] = name.empty() ? json(nullptr) : json(name);
}

Status damaged_objects_status(const std::vector<repo::DamagedObject>& damaged) {
    if (damaged.empty()) return {};
    std::string keys;
    for (const auto& d : damaged)
        keys += (keys.empty() ? "" : ", ") + d.key;
    return fail(ErrorCode::corrupt,
                "{} damaged object(s) left out: {}; the rest is shown. `lifeboat verify` names "
                "what they affect; `lifeboat repair` moves them aside and rebuilds the index",
                damaged.size(), keys);
}

nlohmann::json object_lock_json(const std::optional<repo::ObjectLockConfig>& lock) {
    if (!lock) return nullptr;
    return {{"mode", repo::retention_mode_name(lock->mode)}, {"days", lock->days}};
}

Status run_repo_init(const Settings& s, const RepoInitArgs& args, OutputFormat format) {
    repo::RepositoryConfig config;
    const OperationContext ctx = command_context();
    config.created = ctx.now();
    config.compression_level = static_cast<int>(LB_TRY(s.get_unsigned("compress-level")));
    config.block_size = LB_TRY(s.get_unsigned("block-size"));
    if (!args.object_lock_mode.empty() && args.object_lock_days == 0) {
        return fail(ErrorCode::usage, "--object-lock-mode needs --object-lock-days N");
    }
    if (args.object_lock_days > 0) {
        repo::ObjectLockConfig lock;
        lock.days = args.object_lock_days;
        if (!args.object_lock_mode.empty())
            lock.mode = LB_TRY(repo::parse_retention_mode(args.object_lock_mode));
        config.object_lock = lock;
    }
    const std::string location = LB_TRY(s.repository());
    auto repository = LB_TRY(repo::Repository::init(
        location, config, args.encrypt ? repo::Encryption::aes_256_gcm : repo::Encryption::none,
        keys_of(s, location), ctx.stage_hook));
    if (format == OutputFormat::json) {
        print_json({{"repository", repository.location()},
                    {"repository_id", repository.config().repository_id},
                    {"encrypted", repository.encrypted()},
                    {"object_lock", object_lock_json(repository.config().object_lock)}});
    } else {
        std::printf("created %srepository %s (id %s)\n", repository.encrypted() ? "encrypted " : "",
                    repository.location().c_str(), repository.config().repository_id.c_str());
        if (const auto& lock = repository.config().object_lock) {
            std::printf("every object is kept under %s retention for %u days after its write\n",
                        std::string(repo::retention_mode_name(lock->mode)).c_str(), lock->days);
        }
        if (repository.encrypted()) {
            std::printf(
                "keep the key safe: without it no backup in this repository can be "
                "read\n");
        }
    }
    return {};
}

Status run_backup_command(const Settings& s, const BackupArgs& args, OutputFormat format) {
    engine::BackupOptions options;
    const std::string location = LB_TRY(s.repository());
    options.source_kind = s.get("source-kind");
    if (options.source_kind.empty())
        options.source_kind = std::string(repo::k_kind_postgres_physical);
    options.conninfo =
        LB_TRY(require(s, options.source_kind == repo::k_kind_mongodb ? "mongo" : "pg"));
    if (auto pgdata = s.find("pgdata")) options.pgdata = *pgdata;
    options.jobs = LB_TRY(s.jobs());
    options.archive_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("archive-timeout")));
    options.pg_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    const unsigned split_mib = LB_TRY(s.get_unsigned("split-table-mib"));
    options.split_table_bytes = std::uint64_t{split_mib} * 1024 * 1024;
    for (const auto& tag : args.tags) {
        auto [key, value] = LB_TRY(parse_tag(tag, "--tag"));
        options.tags[key] = value;
    }
    options.type = args.type == "full" ? engine::BackupType::full : engine::BackupType::incremental;
    if (args.verify_unchanged) options.verify_unchanged_share = 1.0;
    std::optional<Timestamp> pin_until;
    if (!args.pin_until.empty()) {
        if (!args.pin) return fail(ErrorCode::usage, "--until needs --pin");
        pin_until = LB_TRY(parse_future_time(args.pin_until));
    }
    repo::Repository repository = LB_TRY(open_repository(s, location));
    ProgressLine progress;
    const OperationContext ctx = command_context(progress.callback());
    auto outcome = engine::run_backup(repository, options, ctx);
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    const auto& m = outcome->manifest;
    for (const auto& w : outcome->warnings)
        std::fprintf(stderr, "lifeboat: warning: %s\n", w.c_str());
    if (format == OutputFormat::json) {
        json failures = json::array();
        for (const auto& f : m.postgres.page_checksum_failures)
            failures.push_back({{"path", f.path}, {"block", f.block}});
        json j = {{"id", m.id},
                  {"source_kind", m.source.kind},
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
                  {"incremental",
                   {{"method", outcome->read.method},
                    {"fallback_reason", outcome->read.fallback_reason},
                    {"read_blocks", outcome->read.read_blocks},
                    {"skipped_blocks", outcome->read.skipped_blocks},
                    {"verified_blocks", outcome->read.verified_blocks},
                    {"mismatched_blocks", outcome->read.mismatched_blocks},
                    {"summarised_files", outcome->read.summarised_files}}},
                  {"duration_seconds", m.stats.duration_seconds},
                  {"adopted_packs", outcome->adopted_packs},
                  {"tags", m.tags},
                  {"page_checksum_failures", failures}};
        if (m.source.kind == repo::k_kind_mongodb) {
            json collections = json::array();
            for (const auto& c : m.mongodb.collections) {
                if (c.type != "collection") continue;
                collections.push_back({{"database", c.database},
                                       {"name", c.name},
                                       {"documents", c.documents},
                                       {"ranges", c.ranges}});
            }
            j["mongodb"] = {{"collections", std::move(collections)}};
        }
        add_repository_json(j, s, location);
        print_json(j);
    } else {
        std::printf("%s\n", m.id.c_str());
        std::fprintf(stderr,
                     "backup %s in repository %s: %llu files (%llu unchanged), %s of data, %s "
                     "read, %s stored, %s "
                     "(WAL %s .. %s)\n",
                     m.id.c_str(), s.describe_repository(location).c_str(),
                     static_cast<unsigned long long>(m.stats.files),
                     static_cast<unsigned long long>(m.stats.reused_files),
                     human_bytes(m.stats.data_bytes).c_str(),
                     human_bytes(m.stats.read_bytes).c_str(),
                     human_bytes(m.stats.stored_bytes).c_str(),
                     format_seconds(m.stats.duration_seconds).c_str(), m.start_wal.c_str(),
                     m.stop_wal.c_str());
    }
    if (args.pin) LB_CHECK(engine::pin_backup(repository, m.id, pin_until, ctx));
    for (const auto& r : s.repositories()) {
        if (!r.copy_after_backup || r.location == location) continue;
        engine::CopyOptions copy{.backup_id = m.id, .jobs = options.jobs};
        auto copied = [&]() -> Result<engine::CopyOutcome> {
            repo::Repository to = LB_TRY(open_repository(s, r.location));
            return engine::run_copy(repository, to, copy, ctx);
        }();
        if (!copied) {
            return std::unexpected(copied.error().context(
                "backup {} is stored, but copying it to repository '{}' failed", m.id, r.name));
        }
        if (format == OutputFormat::text) {
            std::fprintf(stderr, "copied backup %s to repository '%s' (%s sent)\n", m.id.c_str(),
                         r.name.c_str(), human_bytes(copied->bytes_copied).c_str());
        }
    }
    if (!m.postgres.page_checksum_failures.empty()) {
        return fail(ErrorCode::check_failed,
                    "backup {} was stored, but {} page(s) failed checksum verification (listed "
                    "above): the source cluster has corrupt data",
                    m.id, m.postgres.page_checksum_failures.size());
    }
    return {};
}

Result<std::vector<std::string>> archive_repositories(const Settings& s) {
    std::vector<std::string> targets{LB_TRY(s.repository())};
    for (const auto& r : s.repositories()) {
        if (r.archive && std::find(targets.begin(), targets.end(), r.location) == targets.end()) {
            targets.push_back(r.location);
        }
    }
    return targets;
}

Status run_wal_push(const Settings& s, const WalPushArgs& args) {
    // Every repository marked `archive = true` receives the WAL too; the file counts as archived
    // only when all have it (PostgreSQL retries otherwise, and re-pushing is idempotent).
    const OperationContext ctx = command_context();
    for (const auto& target : LB_TRY(archive_repositories(s))) {
        auto pushed = [&]() -> Result<repo::PushOutcome> {
            repo::Repository repository = LB_TRY(open_repository(s, target));
            return postgres_physical::wal_push(repository, args.path, ctx);
        }();
        // Name the repository, unless the message already does.
        if (!pushed && pushed.error().message.find(target) == std::string::npos)
            return std::unexpected(pushed.error().context("repository {}", target));
        if (!pushed) return std::unexpected(pushed.error());
    }
    return {};
}

Status run_logical_push(const Settings& s, const LogicalPushArgs& args) {
    const OperationContext ctx = command_context();
    const std::string location = LB_TRY(s.repository());
    repo::Repository repository = LB_TRY(open_repository(s, location));
    const std::string content = LB_TRY(read_file(args.path));
    LB_CHECK(postgres_logical::push_change_log_object(repository, args.name, content, ctx));
    return {};
}

Status run_pin_command(const Settings& s, const PinArgs& args, OutputFormat format) {
    const std::string repository = LB_TRY(s.repository());
    auto unpinned = engine::UnpinOutcome::unpinned;
    const OperationContext ctx = command_context();
    std::optional<Timestamp> until;
    if (!args.unpin && !args.until.empty()) until = LB_TRY(parse_future_time(args.until));
    repo::Repository opened = LB_TRY(open_repository(s, repository));
    if (args.unpin) {
        unpinned = LB_TRY(engine::unpin_backup(opened, args.backup, ctx));
    } else {
        LB_CHECK(engine::pin_backup(opened, args.backup, until, ctx,
                                    args.legal_hold ? LegalHold::on : LegalHold::off));
    }
    if (format == OutputFormat::json) {
        json j = {{"backup", args.backup},
                  {"pinned", !args.unpin},
                  {"was_pinned",
                   args.unpin ? json(unpinned == engine::UnpinOutcome::unpinned) : json(nullptr)},
                  {"until", args.until.empty() ? json(nullptr) : json(args.until)}};
        if (!args.unpin) j["legal_hold"] = args.legal_hold;
        add_repository_json(j, s, repository);
        print_json(j);
    } else if (unpinned == engine::UnpinOutcome::was_not_pinned) {
        std::printf("%s was not pinned in repository %s: nothing to do\n", args.backup.c_str(),
                    s.describe_repository(repository).c_str());
    } else {
        std::printf("%s %s%s in repository %s\n", args.unpin ? "unpinned" : "pinned",
                    args.backup.c_str(),
                    args.until.empty() || args.unpin ? "" : (" until " + args.until).c_str(),
                    s.describe_repository(repository).c_str());
    }
    return {};
}

Status run_copy_command(const Settings& s, const CopyArgs& args, OutputFormat format) {
    if (args.from.empty() || args.to.empty()) {
        return fail(ErrorCode::usage, "copy needs --from REPO and --to REPO");
    }
    if (!args.backup.empty() && args.all) {
        return fail(ErrorCode::usage, "give --backup ID or --all, not both");
    }
    engine::CopyOptions options;
    const CopyEnds ends{s.repository_location(args.from), s.repository_location(args.to)};
    if (!args.backup.empty()) options.backup_id = args.backup;
    // Each side's key: its own flag, else the repository's configured key_file, else
    // --key-file.
    auto keys_for = [&](const std::string& flag, const std::string& location) {
        if (!flag.empty()) return repo::KeySource{flag, std::nullopt};
        return keys_of(s, location);
    };
    options.jobs = LB_TRY(s.jobs());
    options.io_depth = LB_TRY(s.io_depth_for(ends.from));
    repo::Repository from =
        LB_TRY(open_repository(ends.from, keys_for(args.from_key_file, ends.from)));
    repo::Repository to = LB_TRY(open_repository(ends.to, keys_for(args.to_key_file, ends.to)));
    ProgressLine progress;
    auto outcome = engine::run_copy(from, to, options, command_context(progress.callback()));
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    print_copy_outcome(*outcome, ends, format);
    if (!outcome->not_copied.empty()) {
        std::string ids;
        for (const auto& n : outcome->not_copied)
            ids += (ids.empty() ? "" : ", ") + n.backup_id;
        return fail(ErrorCode::corrupt,
                    "{} backup(s) not copied because of damage in {}: {}; the others were "
                    "copied. `lifeboat verify` there names the damage",
                    outcome->not_copied.size(), ends.from, ids);
    }
    return damaged_objects_status(outcome->damaged);
}

Status run_wal_fetch(const Settings& s, const WalFetchArgs& args) {
    const std::string repository = LB_TRY(s.repository());
    // The prefetcher is this binary again, on the same repository with the same key file (a
    // passphrase reaches it through the environment it inherits).
    const repo::KeySource keys = keys_of(s, repository);
    std::vector<std::string> prefetch_command{self_binary().string(), "wal-prefetch", "--repo",
                                              repository};
    if (keys.key_file) {
        prefetch_command.push_back("--key-file");
        prefetch_command.push_back(keys.key_file->string());
    }
    if (s.read_only()) prefetch_command.push_back("--read-only");
    const Access access = s.read_only() ? Access::read_only : Access::read_write;
    return postgres_physical::wal_fetch([&] { return open_repository(repository, keys, access); },
                                        {.name = args.name,
                                         .destination = args.destination,
                                         .prefetch = args.prefetch,
                                         .prefetch_command = std::move(prefetch_command)});
}

Status run_wal_prefetch(const Settings& s, const WalPrefetchArgs& args) {
    const std::string repository = LB_TRY(s.repository());
    return postgres_physical::wal_prefetch([&] { return open_repository(s, repository); },
                                           {.spool = args.spool,
                                            .after = args.after,
                                            .segment_size = args.segment_size,
                                            .count = args.count});
}

Result<source::ReplayMemory> replay_memory_setting(const Settings& s) {
    const std::string text = s.get("replay-shared-buffers");
    if (text == "auto") return source::ReplayMemory{};
    if (text == "configured")
        return source::ReplayMemory{.mode = source::ReplayMemory::Mode::configured};
    // At least PostgreSQL's own minimum (16 pages), and a size PostgreSQL can take in kB.
    const auto bytes = postgres::parse_memory_size(text, 0);
    if (!bytes || *bytes < 128 * 1024 || *bytes / 1024 > INT32_MAX) {
        return fail(ErrorCode::usage,
                    "--replay-shared-buffers '{}': give auto, configured, or a size such as "
                    "4GB or 512MB (128kB to 2TB)",
                    text);
    }
    return source::ReplayMemory{.mode = source::ReplayMemory::Mode::fixed, .bytes = *bytes};
}

Result<bool> direct_writes_setting(const Settings& s) {
    const std::string text = s.get("restore-writes");
    if (text == "direct") return true;
    if (text == "buffered") return false;
    return fail(ErrorCode::usage, "--restore-writes '{}': give direct or buffered", text);
}

Result<bool> block_id_checks_setting(const Settings& s) {
    const std::string text = s.get("restore-checks");
    if (text == "ids") return true;
    if (text == "checksum") return false;
    return fail(ErrorCode::usage, "--restore-checks '{}': give checksum or ids", text);
}

Status run_restore_command(const Settings& s, const RestoreArgs& args, OutputFormat format) {
    engine::RestoreOptions options;
    const std::string location = LB_TRY(s.repository());
    options.repository_location = location;
    const auto target = LB_TRY(engine::parse_target(args.to, {}, system_clock().now()));
    options.consistent = target.kind == engine::TargetRequest::Kind::consistent;
    if (target.kind == engine::TargetRequest::Kind::time) options.target = target.time;
    if (!args.backup.empty()) options.backup_id = args.backup;
    if (!args.timeline.empty())
        options.timeline = LB_TRY(engine::parse_timeline_request(args.timeline));
    if (args.target_dir.empty()) return fail(ErrorCode::usage, "--target-dir DIR is required");
    options.target_dir = args.target_dir;
    if (args.port != 0) {
        if (args.port < 1 || args.port > 65535)
            return fail(ErrorCode::usage, "--port {} is not a TCP port", args.port);
        options.port = args.port;
    }
    options.start = args.start ? engine::StartServer::yes : engine::StartServer::no;
    if (!args.target_pg.empty()) {
        // Loading into the given server is what starting means for it.
        options.target_conninfo = args.target_pg;
        options.start = engine::StartServer::yes;
    }
    if (!args.target_mongo.empty()) {
        if (!args.target_pg.empty())
            return fail(ErrorCode::usage, "give --target-pg or --target-mongo, not both");
        options.target_conninfo = args.target_mongo;
        options.start = engine::StartServer::yes;
    }
    if (!args.only.empty()) options.only_table = args.only;
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
    options.jobs = LB_TRY(s.jobs());
    options.io_depth = LB_TRY(s.io_depth_for(location));
    options.replay_memory = LB_TRY(replay_memory_setting(s));
    options.direct_writes = LB_TRY(direct_writes_setting(s));
    options.check_block_ids = LB_TRY(block_id_checks_setting(s));
    options.lifeboat_binary = self_binary();
    options.file_sync = file_sync_from_environment();
    const repo::KeySource keys = keys_of(s, location);
    options.key_file = keys.key_file;
    repo::Repository repository = LB_TRY(
        open_repository(location, keys, s.read_only() ? Access::read_only : Access::read_write));
    ProgressLine progress;
    auto outcome = engine::run_restore(repository, options, command_context(progress.callback()));
    progress.clear();
    if (!outcome) return std::unexpected(outcome.error());
    const auto& o = *outcome;
    for (const auto& w : o.warnings)
        std::fprintf(stderr, "lifeboat: warning: %s\n", w.c_str());
    if (!o.replaced_settings.empty()) {
        std::string names;
        for (const auto& name : o.replaced_settings)
            names += (names.empty() ? "" : ", ") + name;
        std::fprintf(stderr,
                     "lifeboat: note: the backup's postgresql.auto.conf carried recovery settings "
                     "(%s); they are commented out and restore wrote its own\n",
                     names.c_str());
    }
    if (format == OutputFormat::json) {
        json j = {
            {"backup", o.backup_id},
            {"backup_timeline", o.backup_timeline},
            {"timeline", o.timeline},
            {"replaced_settings", o.replaced_settings},
            {"warnings", o.warnings},
            {"target", o.target             ? json(format_iso8601(*o.target))
                       : options.consistent ? json("consistent")
                                            : json("latest")},
            {"target_dir", o.target_dir.string()},
            {"files", o.files},
            {"bytes", o.bytes},
            {"started", o.started},
            {"durable", o.durable},
            {"phases", {{"files_seconds", o.files_seconds}, {"sync_seconds", o.sync_seconds}}},
            {"total_seconds", o.total_seconds}};
        add_repository_json(j, s, location);
        j["requests"] = o.requests;
        j["bytes_fetched"] = o.bytes_fetched;
        j["direct_bytes"] = o.direct_bytes;
        j["block_checks"] = options.check_block_ids ? "ids" : "checksum";
        j["blocks_checked"] = {{"id", o.blocks_checked.by_id},
                               {"checksum", o.blocks_checked.by_checksum}};
        j["io_depth"] = o.io_depth;
        if (o.started) {
            j["phases"]["replay_seconds"] = o.replay_seconds;
            j["phases"]["ready_seconds"] = o.ready_seconds;
            j["phases"]["startup_seconds"] = o.recovery.startup_seconds;
            j["phases"]["redo_seconds"] = o.recovery.redo_seconds;
            j["phases"]["end_of_recovery_seconds"] = o.recovery.end_of_recovery_seconds;
            j["end_of_recovery"] = o.recovery.end_of_recovery;
            if (o.recovery.events_applied) j["events_applied"] = *o.recovery.events_applied;
            j["phases"]["prepare_seconds_in_parallel"] = o.prepare_seconds;
            j["log_prefetched"] = o.log_prefetched;
            j["replay_shared_buffers"] = o.replay_memory_bytes;
            j["replay_max_wal_size"] = o.replay_max_wal_size_bytes;
            // --target-pg/--target-mongo: the connection string was the user's own (it may
            // hold a password).
            if (args.target_pg.empty() && args.target_mongo.empty()) {
                j["port"] = o.port;
                j["conninfo"] = o.conninfo;
            }
        }
        print_json(j);
        return {};
    }
    std::printf("restored backup %s from repository %s into %s (target %s, timeline %u%s)\n",
                o.backup_id.c_str(), s.describe_repository(location).c_str(),
                o.target_dir.string().c_str(),
                o.target             ? format_iso8601(*o.target).c_str()
                : options.consistent ? "consistent"
                                     : "latest",
                o.timeline,
                o.timeline == o.backup_timeline
                    ? ""
                    : fmt::format(", from the backup's timeline {}", o.backup_timeline).c_str());
    std::printf("  files       %10s  (%llu files, %s; on disk, %s of it flushing)\n",
                format_seconds(o.files_seconds).c_str(), static_cast<unsigned long long>(o.files),
                human_bytes(o.bytes).c_str(), format_seconds(o.sync_seconds).c_str());
    if (o.started && !args.target_mongo.empty()) {
        std::printf("  documents   %10s  (loaded into the --target-mongo server)\n",
                    format_seconds(o.replay_seconds).c_str());
        std::printf("  indexes     %10s\n", format_seconds(o.ready_seconds).c_str());
        std::printf("  total (RTO) %10s\n", format_seconds(o.total_seconds).c_str());
    } else if (o.started) {
        std::printf("  WAL replay  %10s  (start-up %s, redo %s, end of recovery %s: %s)\n",
                    format_seconds(o.replay_seconds).c_str(),
                    format_seconds(o.recovery.startup_seconds).c_str(),
                    format_seconds(o.recovery.redo_seconds).c_str(),
                    format_seconds(o.recovery.end_of_recovery_seconds).c_str(),
                    o.recovery.end_of_recovery.c_str());
        std::printf("  ready       %10s\n", format_seconds(o.ready_seconds).c_str());
        if (o.replay_memory_bytes != 0) {
            std::printf("  (replayed with shared_buffers = %s, for that run only)\n",
                        human_bytes(o.replay_memory_bytes).c_str());
        }
        if (o.replay_max_wal_size_bytes != 0) {
            std::printf(
                "  (replayed with max_wal_size = %s, the configured value again once "
                "read-write)\n",
                human_bytes(o.replay_max_wal_size_bytes).c_str());
        }
        std::printf("  (preparing the start took %s, in parallel with the files)\n",
                    format_seconds(o.prepare_seconds).c_str());
        std::printf("  total (RTO) %10s\n", format_seconds(o.total_seconds).c_str());
        if (args.target_pg.empty()) {
            std::printf("  running on port %d: psql \"%s\"\n", o.port, o.conninfo.c_str());
        } else {
            std::printf("  loaded into the --target-pg database\n");
        }
    } else {
        std::printf("  start it with: pg_ctl -D %s start   (recovery runs on first start)\n",
                    o.target_dir.string().c_str());
    }
    return {};
}

Status run_validate_command(const Settings& s, const ValidateArgs& args, OutputFormat format) {
    source::ValidateOptions options;
    const bool mongo = s.get("source-kind") == repo::k_kind_mongodb;
    if (!mongo && !args.backup.empty())
        return fail(ErrorCode::usage, "--backup is for validate --source-kind mongodb");
    if (!mongo && !args.target_dir.empty())
        return fail(ErrorCode::usage, "--target-dir is for validate --source-kind mongodb");
    options.conninfo = LB_TRY(require(s, mongo ? "mongo" : "pg"));
    if (!args.checks.empty()) options.checks_file = args.checks;
    if (!args.baseline.empty()) options.baseline_file = args.baseline;
    if (!args.target.empty()) {
        const auto target = LB_TRY(engine::parse_target(args.target, {}, system_clock().now()));
        switch (target.kind) {
            case engine::TargetRequest::Kind::time:
                options.target = target.time;
                break;
            case engine::TargetRequest::Kind::latest: {
                // What a restore to latest reached: the end of the window (the newest archived
                // commit) of the repository it came from.
                const std::string repository = LB_TRY(s.repository());
                const repo::Repository opened = LB_TRY(open_repository(s, repository));
                const auto catalog = LB_TRY(engine::load_catalog(opened));
                if (!catalog.window.latest) {
                    return fail(ErrorCode::outside_window,
                                "--target latest: repository {} has no restorable window ({})",
                                repository, engine::window_state(catalog.window).reason);
                }
                options.target = catalog.window.latest;
                break;
            }
            case engine::TargetRequest::Kind::consistent:
                return fail(ErrorCode::usage,
                            "--target consistent names no time to check against: give the time "
                            "or 'latest'");
        }
    }
    if (args.all_databases && !args.databases.empty()) {
        return fail(ErrorCode::usage, "give --all-databases or --database, not both");
    }
    options.databases = args.databases;
    options.statement_timeout = std::chrono::seconds(LB_TRY(s.get_unsigned("pg-timeout")));
    // validate checks a running PostgreSQL server (--pg): the physical driver's checks; a
    // mongodb server (--mongo) against what a backup of --repo recorded.
    std::optional<repo::Manifest> recorded;
    std::string backup = args.backup;
    if (mongo && !args.target_dir.empty()) {
        options.restore_dir = args.target_dir;
        if (backup.empty()) backup = LB_TRY(restored_mongodb_backup(args.target_dir));
    }
    if (mongo) recorded = LB_TRY(recorded_mongodb_backup(s, backup));
    if (recorded) options.recorded = &*recorded;
    const source::SourceDriver* driver =
        LB_TRY(source::driver_for(mongo ? repo::k_kind_mongodb : repo::k_kind_postgres_physical));
    const auto report = LB_TRY(driver->validate(options));
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
    const std::string location = LB_TRY(s.repository());
    if (!args.backup.empty()) options.backup_id = args.backup;
    options.jobs = LB_TRY(s.jobs());
    options.io_depth = LB_TRY(s.io_depth_for(location));
    repo::Repository repository = LB_TRY(open_repository(s, location));
    ProgressLine progress;
    auto report = engine::run_verify(repository, options, command_context(progress.callback()));
    progress.clear();
    if (!report) return std::unexpected(report.error());
    if (format == OutputFormat::json) {
        json problems = json::array();
        for (const auto& p : report->problems) {
            problems.push_back(
                {{"object", p.object}, {"message", p.message}, {"affected", p.affected}});
        }
        json j = {{"ok", report->ok()},
                  {"backups", report->backups},
                  {"packs", report->packs},
                  {"blocks", report->blocks},
                  {"wal_files", report->wal_files},
                  {"unreferenced_packs", report->unreferenced_packs},
                  {"requests", report->requests},
                  {"bytes_fetched", report->bytes_fetched},
                  {"io_depth", report->io_depth},
                  {"loose_permissions", report->loose_permissions},
                  {"permission_warnings", report->permission_warnings},
                  {"problems", problems}};
        add_repository_json(j, s, location);
        print_json(j);
    } else {
        std::printf("repository %s\n", s.describe_repository(location).c_str());
        for (const auto& w : report->permission_warnings)
            std::printf("WARNING permissions: %s\n", w.c_str());
        if (report->loose_permissions > 0) {
            std::printf(
                "WARNING %zu file(s) and directories of the repository are open to other "
                "users (expected 0640 / 0750; fix with chmod -R g-w,o-rwx)\n",
                report->loose_permissions);
        }
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
