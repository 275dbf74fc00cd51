// LocalServer: controls a PostgreSQL instance on this machine through its own programs (initdb,
// pg_ctl). PostgreSQL refuses to run as root, so when Lifeboat runs as root every server program
// runs as `run_as` (the data directory's owner, or the `postgres` account).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace lifeboat::postgres {

// Finds PostgreSQL 15's programs: `configured` if given, else /usr/lib/postgresql/15/bin, else
// the directory `pg_config --bindir` names, else the directory of pg_ctl on PATH.
Result<fs::path> find_server_bindir(const std::optional<fs::path>& configured);

// The account server programs must run as, or nullopt to run them as ourselves (not root).
// As root: the owner of `data_dir` when it exists and is not root, else `fallback_user`.
Result<std::optional<UserAccount>> server_account(const fs::path& data_dir,
                                                  const std::string& fallback_user);

// Lines of postmaster.pid (see PostgreSQL's pidfile.h).
struct PostmasterStatus {
    long pid = 0;
    int port = 0;
    std::string socket_directory;  // first entry of unix_socket_directories, may be empty
    std::string listen_address;    // first listen address, may be empty
    std::string state;             // "starting", "stopping", "ready", "standby", or ""
};

class LocalServer {
  public:
    LocalServer(fs::path bindir, fs::path data_dir, std::optional<UserAccount> run_as)
        : m_bindir(std::move(bindir)),
          m_data_dir(std::move(data_dir)),
          m_run_as(std::move(run_as)) {}

    enum class Checksums { off, on };
    // initdb with trust authentication for local connections (the data dir must be new).
    Status initdb(Checksums checksums);

    // pg_ctl start without waiting; `options` become -o arguments ("-p 5433 -k /tmp").
    Status start(const fs::path& log_file, const std::string& options);
    // Reads postmaster.pid; nullopt when absent (not started, or already gone).
    Result<std::optional<PostmasterStatus>> status() const;
    // True while the postmaster process recorded in postmaster.pid exists.
    bool is_running() const;

    enum class StopMode { fast, immediate };
    Status stop(StopMode mode);
    // Stops the server whatever it takes, before its data directory may be removed: pg_ctl stop,
    // and when that fails while the postmaster still runs, the postmaster by the pid in
    // postmaster.pid (SIGQUIT, then after `grace` SIGKILL to it and its children), waiting until
    // they are gone. Returns what went wrong on the way (empty when pg_ctl stopped it); fails
    // (ErrorCode::database) only when the postmaster still runs at the end.
    Result<std::string> stop_for_certain(StopMode mode, std::chrono::seconds grace);

    Result<ProcessResult> run_program(const std::string& program,
                                      const std::vector<std::string>& args) const;

    const fs::path& data_dir() const { return m_data_dir; }
    const fs::path& bindir() const { return m_bindir; }
    const std::optional<UserAccount>& run_as() const { return m_run_as; }

  private:
    fs::path m_bindir;
    fs::path m_data_dir;
    std::optional<UserAccount> m_run_as;
};

// A libpq connection string reaching a server from its postmaster.pid (socket preferred).
std::string conninfo_for(const PostmasterStatus& status, const std::string& user,
                         const std::string& dbname = "postgres");

}  // namespace lifeboat::postgres
