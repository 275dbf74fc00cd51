#include "util/process.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

extern char** environ;

namespace lifeboat {

Result<UserAccount> lookup_user(const std::string& name) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || !found) {
        return fail(ErrorCode::config, "no local user named '{}'", name);
    }
    return UserAccount{name, pw.pw_uid, pw.pw_gid};
}

Result<std::string> user_name_of(uid_t uid) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0 || !found) {
        return fail(ErrorCode::config, "no local user with uid {}", uid);
    }
    return std::string(pw.pw_name);
}

namespace {

// The child starts with default signal handling (SIGPIPE, which this process ignores) and nothing
// blocked; `extra_flags` adds spawn flags (POSIX_SPAWN_SETSID). Returns 0 or an errno value.
int reset_signals(posix_spawnattr_t& attributes, short extra_flags) {
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigset_t none;
    sigemptyset(&none);
    int rc = ::posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attributes, &none);
    if (rc == 0) {
        rc = ::posix_spawnattr_setflags(
            &attributes,
            static_cast<short>(extra_flags | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
    }
    return rc;
}

// A descriptor closed when it goes out of scope, so no path out of run_process leaks one.
class OwnedFd {
  public:
    OwnedFd() = default;
    explicit OwnedFd(int fd) : m_fd(fd) {}
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    ~OwnedFd() { reset(); }
    int get() const { return m_fd; }
    void reset(int fd = -1) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = fd;
    }

  private:
    int m_fd = -1;
};

// The spawn attributes and file actions, destroyed on every path.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    SpawnSetup() {
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawnattr_init(&attributes);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
    ~SpawnSetup() {
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attributes);
    }
};

// This process's environment with `extra` set (replacing variables of the same name).
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        const std::string_view name = entry.substr(0, entry.find('='));
        const bool replaced = std::any_of(extra.begin(), extra.end(),
                                          [&](const auto& kv) { return kv.first == name; });
        if (!replaced) out.emplace_back(entry);
    }
    for (const auto& [key, value] : extra)
        out.push_back(key + "=" + value);
    return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// posix_spawn cannot change the account: setpriv (util-linux) does it between spawn and exec.
std::vector<std::string> command_line(const std::vector<std::string>& argv,
                                      const std::optional<UserAccount>& run_as) {
    if (!run_as) return argv;
    std::error_code ec;
    std::vector<std::string> out{
        fs::exists("/usr/bin/setpriv", ec) ? "/usr/bin/setpriv" : "setpriv",
        fmt::format("--reuid={}", run_as->uid), fmt::format("--regid={}", run_as->gid),
        "--clear-groups", "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

}  // namespace

// posix_spawn rather than fork: nothing runs in the child between the spawn and the exec (no
// allocation, no setenv, which are unsafe after fork while other threads run), and the
// environment travels as envp.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
    if (argv.empty()) return fail(ErrorCode::internal, "run_process: empty argv");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return fail(ErrorCode::io, "cannot create pipe: {}", errno_text(errno));
    }
    OwnedFd read_end(pipe_fds[0]);
    OwnedFd write_end(pipe_fds[1]);
    OwnedFd out_file;
    if (options.stdout_file) {
        out_file.reset(
            ::open(options.stdout_file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        if (out_file.get() < 0) {
            return fail(ErrorCode::io, "cannot open {}: {}", options.stdout_file->string(),
                        errno_text(errno));
        }
        if (options.run_as) {
            (void)::fchown(out_file.get(), options.run_as->uid, options.run_as->gid);
        }
    }
    std::vector<std::string> args = command_line(argv, options.run_as);
    std::vector<std::string> environment = child_environment(options.environment);
    const std::vector<char*> arg_pointers = pointers(args);
    const std::vector<char*> env_pointers = pointers(environment);

    SpawnSetup setup;
    const int target = out_file.get() >= 0 ? out_file.get() : write_end.get();
    // dup2 clears close-on-exec on the copies; the originals close at exec.
    int rc =
        ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&setup.actions, target, STDOUT_FILENO);
    if (rc == 0) {
        rc = ::posix_spawn_file_actions_adddup2(
            &setup.actions, options.merge_stderr ? target : write_end.get(), STDERR_FILENO);
    }
    if (rc == 0) rc = reset_signals(setup.attributes, 0);
    if (rc != 0)
        return fail(ErrorCode::io, "cannot prepare to run {}: {}", argv[0], errno_text(rc));

    pid_t pid = -1;
    rc = ::posix_spawnp(&pid, arg_pointers[0], &setup.actions, &setup.attributes,
                        arg_pointers.data(), env_pointers.data());
    if (rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR) {
        // As a shell reports a program it cannot run.
        return ProcessResult{127, fmt::format("cannot run {}: {}", args[0], errno_text(rc))};
    }
    if (rc != 0) return fail(ErrorCode::io, "cannot start {}: {}", argv[0], errno_text(rc));
    write_end.reset();
    out_file.reset();
    ProcessResult result;
    char buffer[8192];
    for (;;) {
        ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (result.output.size() < (1u << 20))
            result.output.append(buffer, static_cast<std::size_t>(n));
    }
    read_end.reset();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return fail(ErrorCode::io, "waitpid failed: {}", errno_text(errno));
    }
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

Status spawn_detached(const std::vector<std::string>& argv) {
    if (argv.empty()) return fail(ErrorCode::internal, "spawn_detached: empty argv");
    std::vector<std::string> args = argv;
    std::vector<std::string> environment = child_environment({});
    const std::vector<char*> arg_pointers = pointers(args);
    const std::vector<char*> env_pointers = pointers(environment);
    SpawnSetup setup;
    int rc = 0;
    for (const int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (rc == 0) {
            rc = ::posix_spawn_file_actions_addopen(&setup.actions, fd, "/dev/null",
                                                    fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
        }
    }
    if (rc == 0) rc = reset_signals(setup.attributes, POSIX_SPAWN_SETSID);
    if (rc != 0)
        return fail(ErrorCode::io, "cannot prepare to run {}: {}", argv[0], errno_text(rc));
    pid_t pid = -1;
    rc = ::posix_spawnp(&pid, arg_pointers[0], &setup.actions, &setup.attributes,
                        arg_pointers.data(), env_pointers.data());
    if (rc != 0) return fail(ErrorCode::io, "cannot start {}: {}", argv[0], errno_text(rc));
    return {};
}

Status change_owner_recursive(const fs::path& path, const UserAccount& account) {
    if (::lchown(path.c_str(), account.uid, account.gid) != 0) {
        return fail(ErrorCode::io, "cannot change owner of {}: {}", path.string(),
                    errno_text(errno));
    }
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(path, ec))) return {};
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (::lchown(it->path().c_str(), account.uid, account.gid) != 0) {
            return fail(ErrorCode::io, "cannot change owner of {}: {}", it->path().string(),
                        errno_text(errno));
        }
    }
    if (ec) return fail(ErrorCode::io, "cannot walk {}: {}", path.string(), ec.message());
    return {};
}

}  // namespace lifeboat
