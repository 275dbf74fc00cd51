#include "util/net.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fs.hpp"

namespace lifeboat {

Result<int> free_local_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ErrorCode::io, "cannot create a socket: {}", errno_text(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int err = errno;
        ::close(fd);
        return fail(ErrorCode::io, "cannot find a free port: {}", errno_text(err));
    }
    ::close(fd);
    return static_cast<int>(ntohs(addr.sin_port));
}

Status check_port_free(int port, const std::vector<std::string>& socket_directories) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ErrorCode::io, "cannot create a socket: {}", errno_text(errno));
    // SO_REUSEADDR: connections of an earlier server lingering in TIME_WAIT do not block a new
    // listener, so they must not count as "in use" either; a live listener still does.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err == EADDRINUSE)
        return fail(ErrorCode::conflict, "port {} is in use (a TCP listener has it)", port);
    for (const auto& dir : socket_directories) {
        const std::string path = dir + "/.s.PGSQL." + std::to_string(port);
        sockaddr_un unix_addr{};
        if (path.size() >= sizeof unix_addr.sun_path) continue;
        unix_addr.sun_family = AF_UNIX;
        std::memcpy(unix_addr.sun_path, path.c_str(), path.size() + 1);
        const int ufd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (ufd < 0) continue;
        const bool listening =
            ::connect(ufd, reinterpret_cast<sockaddr*>(&unix_addr), sizeof unix_addr) == 0;
        ::close(ufd);
        if (listening) {
            return fail(ErrorCode::conflict, "port {} is in use (a server listens on {})", port,
                        path);
        }
    }
    return {};
}

}  // namespace lifeboat
