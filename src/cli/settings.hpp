// Settings: every value a command needs, resolved in this order (first wins):
//   1. the command-line flag (--repo, --pg, ...)
//   2. the environment variable LIFEBOAT_<NAME> (LIFEBOAT_REPO, LIFEBOAT_PG, ...)
//   3. the TOML file given by --config (or LIFEBOAT_CONFIG)
//   4. the built-in default
// The table k_settings in settings.cpp is the single list; docs/configuration.md documents it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::cli {

// What a setting's value is; the TOML file must give it with the matching type.
enum class SettingType {
    text,      // a TOML string
    count,     // a TOML integer
    duration,  // a TOML string such as "7d", or the integer 0
    flag,      // a TOML boolean; on the command line a flag without a value; in the
               // environment true/false, yes/no, on/off or 1/0
};

struct SettingSpec {
    std::string name;       // flag name without dashes; env LIFEBOAT_<NAME upper, '-'->'_'>
    std::string toml_path;  // "repository.path"
    std::string default_value;
    std::string help;
    SettingType type = SettingType::text;
};

// The largest --jobs accepted (0 means one worker per core).
inline constexpr unsigned k_max_jobs = 256;
inline constexpr unsigned k_max_io_depth = 256;

const std::vector<SettingSpec>& setting_specs();

// A named repository from the configuration file ([repositories.NAME]).
struct NamedRepository {
    std::string name;
    std::string location;
    bool archive = false;            // wal-push archives into it too
    bool copy_after_backup = false;  // every backup is copied into it when it completes
    std::map<std::string, std::string>
        retention;         // [repositories.NAME.retention]: setting -> value
    std::string key_file;  // its own key file when it is encrypted with another key than --key-file
    std::optional<unsigned> io_depth;  // its own io_depth (reads in flight)
};

class Settings {
  public:
    // `flags` holds the values given on the command line (only those given).
    static Result<Settings> resolve(const std::map<std::string, std::string>& flags,
                                    const std::optional<std::string>& config_file);

    std::string get(const std::string& name) const;  // "" when unset
    std::optional<std::string> find(const std::string& name) const;
    // Whether `name` was given (flag, environment or configuration file) rather than defaulted:
    // for the few settings whose default depends on the command.
    bool given(const std::string& name) const {
        return m_explicit.count(name) != 0 || m_from_file.count(name) != 0;
    }
    // As get(), but a value from [repositories.NAME.retention] of the repository at `repository`
    // overrides the file's general value (a flag or environment variable still wins).
    std::string get_for(const std::string& name, const std::string& repository) const;
    Result<unsigned> get_unsigned(const std::string& name) const;
    Result<unsigned> get_unsigned_for(const std::string& name, const std::string& repository) const;
    // --jobs: 0 (one per core) .. k_max_jobs; ErrorCode::usage above.
    Result<unsigned> jobs() const;
    // --io-depth for the repository at `location`: the flag or LIFEBOAT_IO_DEPTH, else its own
    // io_depth in [repositories.NAME], else repository.io_depth; 0 (the storage's default) ..
    // k_max_io_depth; ErrorCode::usage above.
    Result<unsigned> io_depth_for(const std::string& location) const;
    // --read-only / LIFEBOAT_READ_ONLY / repository.read_only: repositories are opened for reading
    // only (restore, list, verify, validate...); commands that write refuse (ErrorCode::read_only).
    bool read_only() const { return get("read-only") == "true"; }

    // The repository a command works on: --repo / LIFEBOAT_REPO / repository.path (a configured
    // name or a location), else the file's `default_repository`, else the first [repositories.NAME]
    // in the file's order; ErrorCode::usage when there is none.
    Result<std::string> repository() const;
    // How output names the repository at `location`: "NAME (LOCATION)" when configured, else the
    // location; repository_name() is the configured name alone ("" when none).
    std::string describe_repository(const std::string& location) const;
    std::string repository_name(const std::string& location) const;

    // A repository named on the command line: a configured name, or else a location as given.
    std::string repository_location(const std::string& name_or_location) const;
    const std::vector<NamedRepository>& repositories() const { return m_repositories; }
    // The key file for the repository at `location` ("" when none): its own `key_file` in
    // [repositories.NAME], else --key-file / LIFEBOAT_KEY_FILE / repository.key_file. The one
    // place that decides, so that every command uses the same key for the same repository.
    std::string key_file_for(const std::string& location) const;
    // Whether the repository at `location` has its own key_file in the file.
    bool has_own_key_file(const std::string& location) const;

  private:
    static Result<unsigned> parse_unsigned(const std::string& name, const std::string& value);
    std::map<std::string, std::string> m_values;
    std::set<std::string> m_explicit;   // given by flag or environment
    std::set<std::string> m_from_file;  // given by the configuration file
    std::vector<NamedRepository> m_repositories;
    std::string m_default_repository;  // default_repository from the file ("" when unset)
};

std::string env_name(const std::string& setting);

}  // namespace lifeboat::cli
