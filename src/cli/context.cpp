#include "cli/context.hpp"

#include "storage/open_storage.hpp"
#include "storage/read_only_storage.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

namespace lifeboat::cli {

namespace {

std::shared_ptr<CancellationToken>& command_token() {
    static std::shared_ptr<CancellationToken> token = std::make_shared<CancellationToken>();
    return token;
}

// The signal thread: no work is done in a signal handler; this thread only cancels the token,
// and the operation unwinds on its own threads (locks released, partial output removed).
void wait_for_signals(sigset_t set) {
    int received_before = 0;
    for (;;) {
        int signal_number = 0;
        if (::sigwait(&set, &signal_number) != 0) continue;
        if (received_before != 0) {
            // The user insists: stop now, as the default action would.
            ::_exit(128 + signal_number);
        }
        received_before = signal_number;
        command_token()->cancel(signal_number == SIGINT ? "SIGINT received" : "SIGTERM received");
    }
}

StageHookFn stage_hook_from_environment() {
    const char* value = std::getenv("LIFEBOAT_TEST_STAGE_HOOK");
    const std::string hook = value ? value : "";
    // Stage names hold colons themselves ("backup:files"): the action follows the last one.
    const auto colon = hook.rfind(':');
    if (colon == std::string::npos) return {};
    const std::string stage = hook.substr(0, colon);
    const std::string action = hook.substr(colon + 1);
    std::weak_ptr<CancellationToken> token = command_token();
    // A test that cuts the power while the command pauses waits for this file, not for a guess
    // at how long the command takes to get there.
    const char* reached_file = std::getenv("LIFEBOAT_TEST_STAGE_REACHED");
    const std::string reached_path = reached_file ? reached_file : "";
    return [stage, action, token, reached_path](std::string_view reached) -> Status {
        if (reached != stage) return {};
        if (action == "kill") ::kill(::getpid(), SIGKILL);
        if (action.rfind("pause=", 0) == 0) {
            if (!reached_path.empty()) {
                if (std::FILE* f = std::fopen(reached_path.c_str(), "w")) std::fclose(f);
            }
            const auto seconds = std::chrono::seconds(std::atoi(action.c_str() + 6));
            if (auto t = token.lock()) return t->sleep_for(seconds);
        }
        if (action == "fail") {
            return fail(ErrorCode::io, "injected failure at stage '{}' (LIFEBOAT_TEST_STAGE_HOOK)",
                        reached);
        }
        return {};
    };
}

// Fails the flushes of entries named `m_name`, otherwise flushes as the kernel does.
class FailingFileSync final : public FileSync {
  public:
    explicit FailingFileSync(std::string name) : m_name(std::move(name)) {}
    void start_writeback(int fd, std::uint64_t offset, std::uint64_t length) const override {
        posix_file_sync().start_writeback(fd, offset, length);
    }
    Status sync_file(int fd, const fs::path& path) const override {
        if (path.filename() == m_name) return injected(path);
        return posix_file_sync().sync_file(fd, path);
    }
    Status sync_directory(int fd, const fs::path& path) const override {
        if (path.filename() == m_name) return injected(path);
        return posix_file_sync().sync_directory(fd, path);
    }

  private:
    static Status injected(const fs::path& path) {
        return fail(ErrorCode::io, "cannot fsync {}: {} (injected by LIFEBOAT_TEST_FSYNC_FAIL)",
                    path.string(), errno_text(EIO));
    }
    std::string m_name;
};

}  // namespace

const FileSync* file_sync_from_environment() {
    static const std::unique_ptr<FailingFileSync> sync = []() -> std::unique_ptr<FailingFileSync> {
        const char* name = std::getenv("LIFEBOAT_TEST_FSYNC_FAIL");
        if (name == nullptr || *name == '\0') return nullptr;
        return std::make_unique<FailingFileSync>(name);
    }();
    return sync.get();
}

void start_signal_thread() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    // A background job of a non-interactive shell starts with SIGINT ignored, and an ignored
    // signal is discarded before sigwait could see it: the command decides for itself.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread(wait_for_signals, set).detach();
}

OperationContext command_context(const engine::ProgressFn& progress) {
    static const StageHookFn hook = stage_hook_from_environment();
    OperationContext ctx;
    ctx.clock = &system_clock();
    ctx.cancellation = command_token();
    ctx.progress = progress;
    ctx.stage_hook = hook;
    return ctx;
}

repo::KeySource keys_of(const Settings& s, const std::string& location) {
    static const std::optional<std::string> passphrase = [] {
        const char* p = std::getenv("LIFEBOAT_PASSPHRASE");
        return p && *p ? std::optional<std::string>(p) : std::nullopt;
    }();
    const std::string file = s.key_file_for(location);
    if (file.empty()) return {std::nullopt, passphrase};
    // A repository's own key_file says how it is keyed; only a general key file given beside a
    // passphrase leaves both for the repository to refuse.
    std::error_code ec;
    const auto absolute = fs::absolute(file, ec);
    return {ec ? fs::path(file) : absolute,
            s.has_own_key_file(location) ? std::nullopt : passphrase};
}

Result<repo::Repository> open_repository(const Settings& s, const std::string& location) {
    return open_repository(location, keys_of(s, location),
                           s.read_only() ? Access::read_only : Access::read_write);
}

Result<repo::Repository> open_repository(const std::string& location, const repo::KeySource& keys,
                                         Access access) {
    if (access == Access::read_write) return repo::Repository::open(location, keys);
    std::unique_ptr<Storage> storage = LB_TRY(open_storage(location));
    return repo::Repository::open(std::make_unique<ReadOnlyStorage>(std::move(storage)), keys);
}

}  // namespace lifeboat::cli
