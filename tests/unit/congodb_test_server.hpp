// One CongoDB server (tests/mongo/congodb_server.mjs: a MongoDB wire-protocol server in
// TypeScript, in memory) for the unit tests that need a server to write to. Started on a free
// loopback port, ready once it wrote DIR/ready, stopped (by its pid) with the object. What it
// does not do like MongoDB: docs/operations.md, "Test servers", and tests/mongo/congodb_server.mjs.
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fs.hpp"

namespace lifeboat::congodb_test {

inline std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::string server_script() {
    return std::string(LIFEBOAT_TEST_DATA) + "/../mongo/congodb_server.mjs";
}

// node and CongoDB's package (installed by scripts/install-deps.sh) are present.
inline bool available() {
    const fs::path mongo = fs::path(LIFEBOAT_TEST_DATA) / ".." / "mongo";
    return fs::exists(mongo / "smartmongo" / "dist_ts") && fs::exists(mongo / "node_modules") &&
           std::system("node --version >/dev/null 2>&1") == 0;
}

// A port nobody listens on now (the kernel's choice for port 0).
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
        port = ntohs(address.sin_port);
    ::close(fd);
    return port;
}

class Server {
  public:
    Server() : m_dir(TempDirectory::create(fs::temp_directory_path(), "lb-congodb-").value()) {
        // A port found free may be taken before the server binds it: a few attempts.
        for (int attempt = 0; attempt < 3 && m_uri.empty(); ++attempt)
            start();
    }
    ~Server() { stop(); }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Empty when it did not start (log() says why).
    const std::string& uri() const { return m_uri; }
    std::string log() const { return m_problem + " " + read_text(m_dir.path() / "log"); }

  private:
    void start() {
        const std::string dir = m_dir.path().string();
        const int port = free_port();
        if (port == 0) {
            m_problem = "no free port";
            return;
        }
        const std::string command =
            fmt::format("node '{}' {} '{}' >'{}/log' 2>&1 & echo $! >'{}/pid'", server_script(),
                        port, dir, dir, dir);
        const int status = std::system(command.c_str());
        if (status != 0) {
            m_problem = fmt::format("the shell starting node answered {}", status);
            return;
        }
        m_pid = std::atoi(read_text(m_dir.path() / "pid").c_str());
        // Event-driven: ready once it wrote DIR/ready, given up once the process is gone
        // (a port taken meanwhile) or after a bound generous for a loaded machine.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!fs::exists(m_dir.path() / "ready") && std::chrono::steady_clock::now() < deadline &&
               m_pid > 0 && ::kill(m_pid, 0) == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!fs::exists(m_dir.path() / "ready")) {
            m_problem = fmt::format("port {}: not ready", port);
            stop();
            return;
        }
        m_uri = read_text(m_dir.path() / "ready");
        while (!m_uri.empty() && (m_uri.back() == '\n' || m_uri.back() == '\r'))
            m_uri.pop_back();
    }
    void stop() {
        if (m_pid > 0) ::kill(m_pid, SIGTERM);
        m_pid = 0;
    }

    TempDirectory m_dir;
    std::string m_uri;
    std::string m_problem;
    int m_pid = 0;
};

}  // namespace lifeboat::congodb_test
