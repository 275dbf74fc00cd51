#include "cli/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>

#include <toml++/toml.h>

namespace lifeboat::cli {

const std::vector<SettingSpec>& setting_specs() {
    static const std::vector<SettingSpec> specs = {
        {"repo", "repository.path", "",
         "repository: a name from the configuration file, a local directory or "
         "s3://bucket/prefix?..."},
        {"pg", "source.pg", "", "libpq connection string of the PostgreSQL to back up"},
        {"mongo", "source.mongo", "",
         "MongoDB URI of the mongodb source (MongoDB replica set or Amazon DocumentDB)"},
        {"source-kind", "source.kind", "postgres-physical",
         "how the source is backed up: postgres-physical (data directory + WAL) or "
         "postgres-logical (managed servers: exported snapshot of a logical slot) or mongodb "
         "(MongoDB/DocumentDB: collections dumped as BSON; --mongo URI)"},
        {"pgdata", "source.pgdata", "",
         "source data directory (default: the server's data_directory)"},
        {"pg-bin", "source.pg_bin", "",
         "directory of PostgreSQL 15 programs (default: found automatically)"},
        {"run-as", "source.run_as", "postgres",
         "account that runs PostgreSQL servers when lifeboat runs as root"},
        {"jobs", "performance.jobs", "0", "parallel workers (0: one per core; at most 256)",
         SettingType::count},
        {"io-depth", "repository.io_depth", "0",
         "ranged reads of the repository in flight when restoring, verifying or copying (0: the "
         "storage's default, 32 for S3 and 4 for a local directory; at most 256)",
         SettingType::count},
        {"compress-level", "repository.compress_level", "3",
         "zstd level for new repositories (1..19)", SettingType::count},
        {"block-size", "repository.block_size", "262144",
         "block size in bytes for new repositories (multiple of 8192)", SettingType::count},
        {"key-file", "repository.key_file", "",
         "key file of an encrypted repository, mode 0600 (a passphrase comes from "
         "LIFEBOAT_PASSPHRASE)"},
        {"read-only", "repository.read_only", "false",
         "open the repository for reading only (restore, list, verify, validate); commands that "
         "write refuse, and restore and verify take no lock objects",
         SettingType::flag},
        {"archive-timeout", "backup.archive_timeout", "300",
         "seconds a backup waits for its WAL to be archived", SettingType::count},
        {"pg-timeout", "source.pg_timeout", "3600",
         "seconds one PostgreSQL statement may take (0: no limit); connecting is limited by "
         "connect_timeout in the connection string, 10 s by default",
         SettingType::count},
        {"split-table-mib", "backup.split_table_mib", "64",
         "postgres-logical backup: a table larger than this many MiB is copied in ctid ranges "
         "of about this size on parallel connections (0: never split)",
         SettingType::count},
        {"flush-interval", "capture.flush_interval", "1s",
         "capture (default 1s) and wal-stream (default 200ms) store what they received at "
         "least this often (200ms, 1s, 5s)",
         SettingType::duration},
        {"pg-fallback", "wal_stream.pg_fallback", "",
         "wal-stream connects here when the connection to --pg is lost (a standby that may be "
         "promoted)"},
        {"reconnect-timeout", "wal_stream.reconnect_timeout", "60s",
         "how long wal-stream retries --pg and --pg-fallback after losing its connection or at "
         "the end of the server's timeline (0: end at once)"},
        {"slot", "wal_stream.slot", "lifeboat",
         "wal-stream's physical replication slot on the source (created when missing)"},
        {"synchronous", "wal_stream.synchronous", "false",
         "wal-stream stores every piece of WAL as soon as it arrives and connects with "
         "application_name = the slot's name, for synchronous_standby_names",
         SettingType::flag},
        {"heartbeat-interval", "capture.heartbeat_interval", "0",
         "capture emits a heartbeat message on the source this often, so the slot of a quiet "
         "database on a busy server advances (30s; 0: none)",
         SettingType::duration},
        {"replay-shared-buffers", "restore.replay_shared_buffers", "auto",
         "shared_buffers of a restored PostgreSQL instance while it replays WAL, for that run "
         "only: auto (the data's size, at most 512MB and a quarter of the available memory, never "
         "below the configured value), configured, or a size (4GB, 512MB)"},
        {"restore-writes", "restore.writes", "buffered",
         "how restore writes a data directory: buffered (through the page cache, written back "
         "as blocks land) or direct (past the page cache where the file system allows it, by "
         "writer threads: faster where filling the page cache is slow, and memory is left "
         "alone)"},
        {"restore-checks", "restore.checks", "checksum",
         "how restore checks every block it reads: checksum (against the checksum the block was "
         "stored with, where it has one, else its id: finds any damage) or ids (every block "
         "hashed again and compared with its id, as verify does: slower, and also proves each "
         "block is the one its id names)"},
        {"retention-window", "retention.window", "7d",
         "point-in-time recovery reaches back this far (90m, 36h, 7d; at most 36500d; 0: no "
         "window rule)",
         SettingType::duration},
        {"keep-min", "retention.min_backups", "1", "keep at least this many newest backups",
         SettingType::count},
        {"keep-daily", "retention.daily", "0", "keep the newest backup of this many days",
         SettingType::count},
        {"keep-weekly", "retention.weekly", "0", "keep the newest backup of this many weeks",
         SettingType::count},
        {"keep-monthly", "retention.monthly", "0", "keep the newest backup of this many months",
         SettingType::count},
        {"keep-yearly", "retention.yearly", "0", "keep the newest backup of this many years",
         SettingType::count},
    };
    return specs;
}

std::string env_name(const std::string& setting) {
    std::string out = "LIFEBOAT_";
    for (char c : setting)
        out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

namespace {

struct ConfigFile {
    std::map<std::string, std::string> values;
    std::vector<NamedRepository> repositories;
    std::string default_repository;
};

// A setting's value from the file, as text, only when the TOML type is the one it takes: a
// boolean is not a count, and "4" (a string) is not either, as docs/configuration.md says.
Result<std::string> typed_value(const std::string& path, const std::string& key,
                                const SettingSpec& spec, const toml::node& value) {
    const auto line = value.source().begin.line;
    switch (spec.type) {
        case SettingType::text:
            if (const auto* text = value.as_string()) return text->get();
            return fail(ErrorCode::config, "{}:{}: '{}' must be a string (in double quotes)", path,
                        line, key);
        case SettingType::count:
            if (const auto* number = value.as_integer()) return std::to_string(number->get());
            return fail(ErrorCode::config,
                        "{}:{}: '{}' must be an integer (a number without quotes)", path, line,
                        key);
        case SettingType::duration:
            if (const auto* text = value.as_string()) return text->get();
            if (const auto* number = value.as_integer(); number && number->get() == 0) return "0";
            return fail(ErrorCode::config,
                        "{}:{}: '{}' must be a duration string such as \"7d\" (or 0)", path, line,
                        key);
        case SettingType::flag:
            if (const auto* flag = value.as_boolean()) return flag->get() ? "true" : "false";
            return fail(ErrorCode::config, "{}:{}: '{}' must be true or false (without quotes)",
                        path, line, key);
    }
    return fail(ErrorCode::internal, "unknown setting type");
}

// [repositories.NAME.retention]: the [retention] keys, for this repository only.
Result<std::map<std::string, std::string>> read_repository_retention(const std::string& path,
                                                                     const std::string& repo,
                                                                     const toml::table& table) {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : table) {
        const std::string full = "retention." + std::string(key.str());
        const SettingSpec* spec = nullptr;
        for (const auto& candidate : setting_specs())
            if (candidate.toml_path == full) spec = &candidate;
        if (!spec) {
            return fail(ErrorCode::config,
                        "{}:{}: repositories.{}.{}: unknown retention setting (see "
                        "docs/configuration.md)",
                        path, value.source().begin.line, repo, full);
        }
        out[spec->name] =
            LB_TRY(typed_value(path, fmt::format("repositories.{}.{}", repo, full), *spec, value));
    }
    return out;
}

// [repositories.NAME] tables: path (required), archive, copy_after_backup.
Result<std::vector<NamedRepository>> read_repositories(const std::string& path,
                                                       const toml::table& section) {
    std::vector<std::pair<std::pair<int, int>, NamedRepository>> found;  // (line, column)
    for (const auto& [name, node] : section) {
        const auto* table = node.as_table();
        if (!table) {
            return fail(ErrorCode::config, "{}:{}: repositories.{} must be a table", path,
                        node.source().begin.line, name.str());
        }
        NamedRepository repo{std::string(name.str()), "", false, false, {}, "", std::nullopt};
        for (const auto& [key, value] : *table) {
            const std::string k(key.str());
            // Exact types only (as_string, as_boolean): toml++'s value<T>() would turn 1 into
            // true and true into 1.
            if (k == "retention" && value.as_table()) {
                repo.retention =
                    LB_TRY(read_repository_retention(path, repo.name, *value.as_table()));
            } else if (k == "key_file" && value.as_string()) {
                repo.key_file = value.as_string()->get();
            } else if (k == "path" && value.as_string()) {
                repo.location = value.as_string()->get();
            } else if (k == "archive" && value.as_boolean()) {
                repo.archive = value.as_boolean()->get();
            } else if (k == "copy_after_backup" && value.as_boolean()) {
                repo.copy_after_backup = value.as_boolean()->get();
            } else if (k == "io_depth" && value.as_integer() && value.as_integer()->get() >= 0 &&
                       value.as_integer()->get() <= k_max_io_depth) {
                repo.io_depth = static_cast<unsigned>(value.as_integer()->get());
            } else {
                return fail(ErrorCode::config,
                            "{}:{}: repositories.{}.{}: unknown setting or wrong type (path and "
                            "key_file are strings; archive and copy_after_backup are true/false; "
                            "io_depth is an integer 0..256; retention is a table)",
                            path, value.source().begin.line, repo.name, k);
            }
        }
        if (repo.location.empty()) {
            return fail(ErrorCode::config, "{}: repositories.{} has no path", path, repo.name);
        }
        const auto& begin = node.source().begin;
        found.push_back(
            {{static_cast<int>(begin.line), static_cast<int>(begin.column)}, std::move(repo)});
    }
    // toml++ keeps tables in a map ordered by name; the file's order is the documented one (the
    // first listed is the default), so restore it from where each table begins.
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<NamedRepository> out;
    for (auto& [where, repo] : found)
        out.push_back(std::move(repo));
    return out;
}

Result<ConfigFile> read_config_file(const std::string& path) {
    ConfigFile file;
    std::map<std::string, std::string>& values = file.values;
    toml::table table;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return fail(ErrorCode::config, "configuration file {} is a directory, not a TOML file",
                    path);
    }
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        std::string reason(e.description());
        if (reason.find("File could not be opened") != std::string::npos) {
            return fail(ErrorCode::config, "cannot read configuration file {}: {}", path,
                        std::filesystem::exists(path, ec) ? "permission denied or unreadable"
                                                          : "no such file");
        }
        return fail(ErrorCode::config, "{}:{}:{}: {}", path, where.line, where.column, reason);
    }
    std::map<std::string, const SettingSpec*> by_path;
    for (const auto& spec : setting_specs())
        by_path[spec.toml_path] = &spec;
    for (const auto& [section, node] : table) {
        const auto* sub = node.as_table();
        if (sub && section.str() == "repositories") {
            file.repositories = LB_TRY(read_repositories(path, *sub));
            continue;
        }
        // The agent's sections ([[sources]] included): read by the agent's own parser
        // (agent/config.hpp), which checks them when `agent`, `status` or `alert-test` runs.
        if ((sub && (section.str() == "agent" || section.str() == "schedule" ||
                     section.str() == "alerts")) ||
            (node.as_array() && section.str() == "sources")) {
            continue;
        }
        if (section.str() == "default_repository") {
            if (!node.as_string()) {
                return fail(ErrorCode::config,
                            "{}:{}: 'default_repository' must be a string naming a "
                            "[repositories.NAME] table",
                            path, node.source().begin.line);
            }
            file.default_repository = node.as_string()->get();
            continue;
        }
        if (!sub) {
            return fail(ErrorCode::config, "{}: '{}' must be a section such as [{}]", path,
                        section.str(), section.str());
        }
        for (const auto& [key, value] : *sub) {
            const std::string full = std::string(section.str()) + "." + std::string(key.str());
            auto it = by_path.find(full);
            if (it == by_path.end()) {
                return fail(ErrorCode::config,
                            "{}:{}: unknown setting '{}' (see docs/configuration.md)", path,
                            value.source().begin.line, full);
            }
            values[it->second->name] = LB_TRY(typed_value(path, full, *it->second, value));
        }
    }
    if (!file.default_repository.empty() &&
        std::none_of(file.repositories.begin(), file.repositories.end(),
                     [&](const NamedRepository& r) { return r.name == file.default_repository; })) {
        return fail(ErrorCode::config,
                    "{}: default_repository = \"{}\" names no [repositories.{}] table", path,
                    file.default_repository, file.default_repository);
    }
    return file;
}

// A flag setting from its environment variable, as "true" or "false".
Result<std::string> flag_from_environment(const SettingSpec& spec, std::string_view value) {
    std::string lower;
    for (char c : value)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return "true";
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return "false";
    return fail(ErrorCode::config, "{}='{}': must be true or false (or yes/no, on/off, 1/0)",
                env_name(spec.name), value);
}

}  // namespace

Result<Settings> Settings::resolve(const std::map<std::string, std::string>& flags,
                                   const std::optional<std::string>& config_file) {
    Settings settings;
    ConfigFile from_file;
    std::optional<std::string> file = config_file;
    if (!file) {
        if (const char* env = std::getenv("LIFEBOAT_CONFIG"); env && *env) file = env;
    }
    if (file) from_file = LB_TRY(read_config_file(*file));
    settings.m_repositories = from_file.repositories;
    settings.m_default_repository = from_file.default_repository;
    for (const auto& spec : setting_specs()) {
        if (auto it = flags.find(spec.name); it != flags.end()) {
            settings.m_values[spec.name] = it->second;
            settings.m_explicit.insert(spec.name);
        } else if (const char* env = std::getenv(env_name(spec.name).c_str()); env && *env) {
            std::string text = env;
            if (spec.type == SettingType::flag) text = LB_TRY(flag_from_environment(spec, env));
            settings.m_values[spec.name] = std::move(text);
            settings.m_explicit.insert(spec.name);
        } else if (auto f = from_file.values.find(spec.name); f != from_file.values.end()) {
            settings.m_values[spec.name] = f->second;
            settings.m_from_file.insert(spec.name);
        } else {
            settings.m_values[spec.name] = spec.default_value;
        }
    }
    return settings;
}

Result<std::string> Settings::repository() const {
    if (auto repo = find("repo")) return repository_location(*repo);
    if (!m_default_repository.empty()) return repository_location(m_default_repository);
    if (!m_repositories.empty()) return m_repositories.front().location;
    return fail(ErrorCode::usage, "--repo is required (or set {} or the config file)",
                env_name("repo"));
}

std::string Settings::repository_name(const std::string& location) const {
    for (const auto& r : m_repositories)
        if (r.location == location) return r.name;
    return "";
}

std::string Settings::describe_repository(const std::string& location) const {
    const std::string name = repository_name(location);
    return name.empty() ? location : fmt::format("{} ({})", name, location);
}

Result<unsigned> Settings::jobs() const {
    const unsigned jobs = LB_TRY(get_unsigned("jobs"));
    if (jobs > k_max_jobs) {
        return fail(ErrorCode::usage, "jobs {} is too many: at most {} (0: one per core)", jobs,
                    k_max_jobs);
    }
    return jobs;
}

Result<unsigned> Settings::io_depth_for(const std::string& location) const {
    std::string value = get("io-depth");
    if (!m_explicit.count("io-depth")) {
        for (const auto& r : m_repositories)
            if (r.location == location && r.io_depth) value = std::to_string(*r.io_depth);
    }
    const unsigned depth = LB_TRY(parse_unsigned("io-depth", value));
    if (depth > k_max_io_depth) {
        return fail(ErrorCode::usage,
                    "io-depth {} is too many: at most {} (0: the storage's default)", depth,
                    k_max_io_depth);
    }
    return depth;
}

std::string Settings::repository_location(const std::string& name_or_location) const {
    for (const auto& r : m_repositories) {
        if (r.name == name_or_location) return r.location;
    }
    return name_or_location;
}

std::string Settings::get_for(const std::string& name, const std::string& repository) const {
    if (!m_explicit.count(name)) {
        for (const auto& r : m_repositories) {
            if (r.location != repository) continue;
            if (auto it = r.retention.find(name); it != r.retention.end()) return it->second;
        }
    }
    return get(name);
}

bool Settings::has_own_key_file(const std::string& location) const {
    for (const auto& r : m_repositories)
        if (r.location == location && !r.key_file.empty()) return true;
    return false;
}

std::string Settings::key_file_for(const std::string& location) const {
    for (const auto& r : m_repositories)
        if (r.location == location && !r.key_file.empty()) return r.key_file;
    return get("key-file");
}

std::string Settings::get(const std::string& name) const {
    auto it = m_values.find(name);
    return it == m_values.end() ? std::string() : it->second;
}

std::optional<std::string> Settings::find(const std::string& name) const {
    auto value = get(name);
    if (value.empty()) return std::nullopt;
    return value;
}

Result<unsigned> Settings::get_unsigned(const std::string& name) const {
    return parse_unsigned(name, get(name));
}

Result<unsigned> Settings::get_unsigned_for(const std::string& name,
                                            const std::string& repository) const {
    return parse_unsigned(name, get_for(name, repository));
}

Result<unsigned> Settings::parse_unsigned(const std::string& name, const std::string& value) {
    unsigned out = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
        return fail(ErrorCode::usage, "{} must be a non-negative integer, got '{}'", name, value);
    }
    return out;
}

}  // namespace lifeboat::cli
