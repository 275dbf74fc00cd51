// Child processes: run a program with arguments (no shell), optionally as another user, and
// collect its exit status and output.
#pragma once

#include <sys/types.h>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace lifeboat {

// A local account, used to run PostgreSQL (which refuses to run as root).
struct UserAccount {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};
Result<UserAccount> lookup_user(const std::string& name);
Result<std::string> user_name_of(uid_t uid);

struct ProcessOptions {
    std::optional<UserAccount> run_as;    // run as this account (needs root)
    std::optional<fs::path> stdout_file;  // append stdout here instead of capturing it
    bool merge_stderr = true;             // capture stderr together with stdout
    std::vector<std::pair<std::string, std::string>> environment;  // extra variables
};

struct ProcessResult {
    int exit_status = -1;  // exit code, or 128 + signal number
    std::string output;    // captured stdout (and stderr when merged), capped at 1 MiB
};

// Runs argv[0] (looked up in PATH when it has no slash) and waits for it. A program that cannot
// be started (missing, not executable) yields exit_status 127 and the reason in `output`, as a
// shell would; a failure to spawn at all (no processes or memory left) is ErrorCode::io. Nothing
// leaks on any path. `run_as` goes through setpriv (util-linux), since posix_spawn cannot change
// the account.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

// Starts argv[0] in a session of its own with stdin, stdout and stderr on /dev/null, and does not
// wait for it: it outlives the caller. ErrorCode::io when it cannot be started.
Status spawn_detached(const std::vector<std::string>& argv);

// Gives `path` (recursively when it is a directory) to `account`.
Status change_owner_recursive(const fs::path& path, const UserAccount& account);

}  // namespace lifeboat
