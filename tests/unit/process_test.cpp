// Child processes (src/util/process.hpp).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "util/process.hpp"

using namespace lifeboat;

namespace {

int open_descriptors() {
    int count = 0;
    for (int fd = 0; fd < 4096; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0) ++count;
    }
    return count;
}

}  // namespace

TEST(Process, CapturesOutputAndExitStatus) {
    auto result = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->exit_status, 3);
    EXPECT_EQ(result->output, "out\nerr\n");
}

TEST(Process, StdoutToAFileWithStderrCapturedApart) {
    char name[] = "/tmp/lb-process-test-XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    auto result = run_process({"sh", "-c", "echo out; echo err >&2"},
                              {.stdout_file = fs::path(name), .merge_stderr = false});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->output, "err\n");
    auto written = read_file(name);
    ::unlink(name);
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, "out\n");
}

TEST(Process, PassesExtraEnvironmentToTheChildOnly) {
    ::setenv("LB_PROCESS_TEST_KEPT", "kept", 1);
    ::setenv("LB_PROCESS_TEST_REPLACED", "old", 1);
    auto result = run_process(
        {"sh", "-c", "echo $LB_PROCESS_TEST_KEPT $LB_PROCESS_TEST_REPLACED $LB_PROCESS_TEST_NEW"},
        {.environment = {{"LB_PROCESS_TEST_REPLACED", "new"}, {"LB_PROCESS_TEST_NEW", "x y"}}});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->output, "kept new x y\n");
    EXPECT_STREQ(::getenv("LB_PROCESS_TEST_REPLACED"), "old");
    EXPECT_EQ(::getenv("LB_PROCESS_TEST_NEW"), nullptr);
}

TEST(Process, AMissingProgramExits127AndLeaksNoDescriptor) {
    const int before = open_descriptors();
    for (int i = 0; i < 500; ++i) {
        auto result = run_process({"/nonexistent/lifeboat-test-program"});
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_EQ(result->exit_status, 127);
    }
    EXPECT_EQ(open_descriptors(), before);
}

// When no process can be created (RLIMIT_NPROC reached), every attempt fails cleanly and leaves
// no descriptor behind. Run in a child of the test, which lowers its own limit (as an unprivileged
// account when the test runs as root: root ignores RLIMIT_NPROC).
TEST(Process, ASpawnThatCannotCreateAProcessLeaksNoDescriptor) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(2);
        const rlimit none{0, 0};
        if (::setrlimit(RLIMIT_NPROC, &none) != 0) ::_exit(3);
        const int before = open_descriptors();
        for (int i = 0; i < 200; ++i) {
            auto result = run_process({"true"}, {.stdout_file = fs::path("/dev/null")});
            if (result) ::_exit(4);  // a process was created after all
            if (result.error().code != ErrorCode::io) ::_exit(5);
        }
        ::_exit(open_descriptors() == before ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "1: descriptors leaked; 4: the limit did not stop process creation; 5: wrong error";
}

TEST(Process, RunsAsAnotherAccount) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto account = lookup_user("postgres");
    if (!account) GTEST_SKIP() << "no postgres account";
    auto result = run_process({"sh", "-c", "id -u; id -G"}, {.run_as = *account});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->output, fmt::format("{}\n{}\n", account->uid, account->gid));
}

TEST(Process, ADetachedProcessRunsInASessionOfItsOwn) {
    char name[] = "/tmp/lb-process-test-XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    const std::string done = std::string(name) + ".done";
    // Field 6 of /proc/PID/stat is the session id; written, then renamed: the rename is the event.
    ASSERT_TRUE(spawn_detached(
        {"sh", "-c", fmt::format("cut -d' ' -f6 /proc/$$/stat > {0} && mv {0} {1}", name, done)}));
    std::optional<std::string> session;
    for (int i = 0; i < 6000 && !session; ++i) {
        auto text = read_file(done);
        if (text) {
            session = *text;
        } else {
            ::usleep(10000);
        }
    }
    ::unlink(done.c_str());
    ASSERT_TRUE(session) << "the detached process did not run";
    EXPECT_NE(std::stol(*session), static_cast<long>(::getsid(0)));
}
