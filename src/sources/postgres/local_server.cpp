#include "sources/postgres/local_server.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

namespace lifeboat::postgres {

Result<fs::path> find_server_bindir(const std::optional<fs::path>& configured) {
    std::error_code ec;
    auto usable = [&](const fs::path& dir) { return fs::exists(dir / "pg_ctl", ec); };
    if (configured) {
        if (!usable(*configured)) {
            return fail(ErrorCode::config, "pg-bin {}: no pg_ctl there", configured->string());
        }
        return *configured;
    }
    const fs::path debian = "/usr/lib/postgresql/15/bin";
    if (usable(debian)) return debian;
    auto pg_config = run_process({"pg_config", "--bindir"}, {.merge_stderr = false});
    if (pg_config && pg_config->exit_status == 0) {
        std::string dir = pg_config->output;
        while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' '))
            dir.pop_back();
        if (usable(dir)) return fs::path(dir);
    }
    return fail(ErrorCode::config,
                "cannot find PostgreSQL 15's programs (pg_ctl); install postgresql-15 or set "
                "pg-bin / LIFEBOAT_PG_BIN");
}

Result<std::optional<UserAccount>> server_account(const fs::path& data_dir,
                                                  const std::string& fallback_user) {
    if (::geteuid() != 0) return std::optional<UserAccount>{};
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0 && st.st_uid != 0) {
        const std::string name = LB_TRY(user_name_of(st.st_uid));
        return std::optional<UserAccount>(LB_TRY(lookup_user(name)));
    }
    return std::optional<UserAccount>(LB_TRY(lookup_user(fallback_user)));
}

Result<ProcessResult> LocalServer::run_program(const std::string& program,
                                               const std::vector<std::string>& args) const {
    std::vector<std::string> argv{(m_bindir / program).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.run_as = m_run_as;
    return run_process(argv, options);
}

Status LocalServer::initdb(Checksums checksums) {
    std::vector<std::string> args{
        "-D", m_data_dir.string(), "--auth=trust", "--no-instructions", "-E", "UTF8", "--locale=C"};
    if (m_run_as) args.insert(args.end(), {"-U", m_run_as->name});
    if (checksums == Checksums::on) args.push_back("--data-checksums");
    auto result = LB_TRY(run_program("initdb", args));
    if (result.exit_status != 0) {
        return fail(ErrorCode::database, "initdb {} failed: {}", m_data_dir.string(),
                    result.output);
    }
    return {};
}

Status LocalServer::start(const fs::path& log_file, const std::string& options) {
    auto result = LB_TRY(run_program("pg_ctl", {"-D", m_data_dir.string(), "-l", log_file.string(),
                                                "-o", options, "-W", "start"}));
    if (result.exit_status != 0) {
        return fail(ErrorCode::database, "pg_ctl start {} failed: {}", m_data_dir.string(),
                    result.output);
    }
    return {};
}

Result<std::optional<PostmasterStatus>> LocalServer::status() const {
    auto text = read_file(m_data_dir / "postmaster.pid");
    if (!text) {
        if (text.error().code == ErrorCode::not_found) return std::optional<PostmasterStatus>{};
        return std::unexpected(text.error());
    }
    std::vector<std::string> lines;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    PostmasterStatus s;
    auto line = [&](std::size_t i) { return i < lines.size() ? lines[i] : std::string(); };
    s.pid = std::strtol(line(0).c_str(), nullptr, 10);
    s.port = static_cast<int>(std::strtol(line(3).c_str(), nullptr, 10));
    s.socket_directory = line(4);
    s.listen_address = line(5);
    s.state = line(7);
    while (!s.state.empty() && s.state.back() == ' ')
        s.state.pop_back();
    if (s.listen_address == "*") s.listen_address = "127.0.0.1";
    return std::optional<PostmasterStatus>(s);
}

bool LocalServer::is_running() const {
    auto s = status();
    if (!s || !*s || (*s)->pid <= 0) return false;
    return ::kill(static_cast<pid_t>((*s)->pid), 0) == 0 || errno == EPERM;
}

Status LocalServer::stop(StopMode mode) {
    if (!is_running()) return {};
    auto result = LB_TRY(run_program(
        "pg_ctl", {"-D", m_data_dir.string(), "-m", mode == StopMode::fast ? "fast" : "immediate",
                   "-w", "-t", "60", "stop"}));
    if (result.exit_status != 0 && is_running()) {
        return fail(ErrorCode::database, "pg_ctl stop {} failed: {}", m_data_dir.string(),
                    result.output);
    }
    return {};
}

namespace {

// Whether `pid` names a process that has not exited (a zombie has).
bool process_alive(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    auto stat = read_file(fmt::format("/proc/{}/stat", pid));
    if (!stat) return true;  // no /proc: trust kill()
    const auto close = stat->rfind(')');
    return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

// The processes whose parent is `pid` (the postmaster's backends and auxiliary processes).
std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto stat = read_file(entry.path() / "stat");
        if (!stat) continue;
        const auto close = stat->rfind(')');
        if (close == std::string::npos) continue;
        // After ") ": the state, then the parent's pid.
        std::istringstream fields(stat->substr(close + 1));
        std::string state;
        long parent = 0;
        fields >> state >> parent;
        if (parent == pid) out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

bool wait_gone(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (process_alive(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

}  // namespace

Result<std::string> LocalServer::stop_for_certain(StopMode mode, std::chrono::seconds grace) {
    const auto recorded = status();
    const pid_t pid = recorded && *recorded ? static_cast<pid_t>((*recorded)->pid) : 0;
    const Status stopped = stop(mode);
    if (stopped) return std::string();
    std::string problem = stopped.error().message;
    if (pid <= 0) {
        return fail(ErrorCode::database, "{}; and no postmaster pid to stop it by", problem);
    }
    // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its children down.
    ::kill(pid, SIGQUIT);
    if (wait_gone(pid, grace)) {
        return fmt::format("{}; the postmaster (pid {}) was stopped with SIGQUIT", problem, pid);
    }
    const std::vector<pid_t> children = children_of(pid);
    for (const pid_t child : children)
        ::kill(child, SIGKILL);
    ::kill(pid, SIGKILL);
    bool gone = wait_gone(pid, std::chrono::seconds(30));
    for (const pid_t child : children)
        gone = wait_gone(child, std::chrono::seconds(30)) && gone;
    if (!gone) {
        return fail(ErrorCode::database, "{}; the postmaster (pid {}) survived SIGQUIT and SIGKILL",
                    problem, pid);
    }
    return fmt::format("{}; the postmaster (pid {}) ignored SIGQUIT for {} s and was killed",
                       problem, pid, grace.count());
}

std::string conninfo_for(const PostmasterStatus& status, const std::string& user,
                         const std::string& dbname) {
    const std::string host =
        !status.socket_directory.empty() ? status.socket_directory : status.listen_address;
    return fmt::format("host='{}' port={} user='{}' dbname='{}' connect_timeout=5", host,
                       status.port, user, dbname);
}

}  // namespace lifeboat::postgres
