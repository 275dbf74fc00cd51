// Test helper: a throwaway PostgreSQL 15 cluster in a temporary directory. PostgreSQL refuses to
// run as root, so when the tests run as root every server program runs as the `postgres`
// account (which then owns the directory). Tests skip when the binaries are absent.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/fs.hpp"
#include "util/process.hpp"

namespace lifeboat::pgtest {

class TestCluster {
  public:
    static constexpr const char* k_bindir = "/usr/lib/postgresql/15/bin";

    static bool available() { return fs::exists(fs::path(k_bindir) / "initdb"); }

    // Creates <tmp>/lb-pg-XXXX/data with initdb (trust auth, C locale) plus `extra_args`.
    static Result<std::unique_ptr<TestCluster>> init(const std::vector<std::string>& extra_args) {
        auto dir = LB_TRY(TempDirectory::create(fs::temp_directory_path(), "lb-pg-"));
        std::optional<UserAccount> account;
        if (::geteuid() == 0) {
            account = LB_TRY(lookup_user("postgres"));
            LB_CHECK(change_owner_recursive(dir.path(), *account));
        }
        std::unique_ptr<TestCluster> cluster(new TestCluster(std::move(dir), account));
        std::vector<std::string> argv = {cluster->bin("initdb"),
                                         "-D",
                                         cluster->data_dir().string(),
                                         "-A",
                                         "trust",
                                         "--no-sync",
                                         "--locale=C",
                                         "-E",
                                         "UTF8"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        LB_CHECK(cluster->run_checked(argv));
        return cluster;
    }

    ~TestCluster() { (void)stop(); }

    const fs::path& root() const { return m_dir.path(); }
    fs::path data_dir() const { return root() / "data"; }
    std::string bin(const std::string& program) const {
        return (fs::path(k_bindir) / program).string();
    }

    Result<ProcessResult> run(const std::vector<std::string>& argv) const {
        ProcessOptions options;
        options.run_as = m_account;
        options.environment = {{"LC_ALL", "C"}, {"TZ", "UTC"}};
        return run_process(argv, options);
    }
    Result<std::string> run_checked(const std::vector<std::string>& argv) const {
        const auto result = LB_TRY(run(argv));
        if (result.exit_status != 0) {
            return fail(ErrorCode::database, "{} failed ({}): {}", argv[0], result.exit_status,
                        result.output);
        }
        return result.output;
    }

    Status append_config(const std::string& lines) {
        std::ofstream out(data_dir() / "postgresql.conf", std::ios::app);
        out << '\n' << lines << '\n';
        if (!out) return fail(ErrorCode::io, "cannot append to postgresql.conf");
        return {};
    }

    // A directory owned by the server account (e.g. a WAL archive).
    Result<fs::path> make_directory(const std::string& name) const {
        const fs::path path = root() / name;
        LB_CHECK(ensure_directory(path));
        if (m_account) LB_CHECK(change_owner_recursive(path, *m_account));
        return path;
    }

    // Starts the server on a Unix socket in root() only.
    Status start() {
        m_port = free_port();
        LB_CHECK(run_checked(
            {bin("pg_ctl"), "-D", data_dir().string(), "-l", (root() / "server.log").string(), "-w",
             "-t", "60", "-o",
             fmt::format("-p {} -k {} -c listen_addresses=''", m_port, root().string()), "start"}));
        m_running = true;
        return {};
    }

    Status stop() {
        if (!m_running) return {};
        m_running = false;
        LB_CHECK(run_checked(
            {bin("pg_ctl"), "-D", data_dir().string(), "-m", "immediate", "-w", "stop"}));
        return {};
    }

    // A libpq connection string for the running server, as the server's account.
    std::string conninfo() const {
        return fmt::format("host={} port={} user=postgres dbname=postgres", root().string(),
                           m_port);
    }

    // Runs SQL through psql (unaligned, tuples only); returns its output.
    Result<std::string> psql(const std::string& sql) const {
        return run_checked({bin("psql"), "-h", root().string(), "-p", std::to_string(m_port), "-d",
                            "postgres", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                            sql});
    }

    std::string server_log() const {
        auto text = read_file(root() / "server.log");
        return text ? *text : std::string();
    }

  private:
    TestCluster(TempDirectory dir, std::optional<UserAccount> account)
        : m_dir(std::move(dir)), m_account(std::move(account)) {}

    static int free_port() {
        int port = 54329;
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return port;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
            port = ntohs(addr.sin_port);
        }
        ::close(fd);
        return port;
    }

    TempDirectory m_dir;
    std::optional<UserAccount> m_account;
    int m_port = 0;
    bool m_running = false;
};

// Trims trailing whitespace (psql output ends with a newline).
inline std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
        s.pop_back();
    return s;
}

}  // namespace lifeboat::pgtest
