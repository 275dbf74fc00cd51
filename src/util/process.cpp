#include "util/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

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

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
    if (argv.empty()) return fail(ErrorCode::internal, "run_process: empty argv");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return fail(ErrorCode::io, "cannot create pipe: {}", errno_text(errno));
    }
    int out_fd = -1;
    if (options.stdout_file) {
        out_fd =
            ::open(options.stdout_file->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            ::close(pipe_fds[0]);
            ::close(pipe_fds[1]);
            return fail(ErrorCode::io, "cannot open {}: {}", options.stdout_file->string(),
                        errno_text(errno));
        }
        if (options.run_as) {
            (void)::fchown(out_fd, options.run_as->uid, options.run_as->gid);
        }
    }
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) return fail(ErrorCode::io, "cannot fork: {}", errno_text(errno));
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        const int target = out_fd >= 0 ? out_fd : pipe_fds[1];
        ::dup2(target, STDOUT_FILENO);
        ::dup2(options.merge_stderr ? target : pipe_fds[1], STDERR_FILENO);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        if (options.run_as) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(options.run_as->gid) != 0 ||
                ::setuid(options.run_as->uid) != 0) {
                ::_exit(126);
            }
        }
        for (const auto& [key, value] : options.environment) {
            ::setenv(key.c_str(), value.c_str(), 1);
        }
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    if (out_fd >= 0) ::close(out_fd);
    ProcessResult result;
    char buffer[8192];
    for (;;) {
        ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (result.output.size() < (1u << 20))
            result.output.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return fail(ErrorCode::io, "waitpid failed: {}", errno_text(errno));
    }
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
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
