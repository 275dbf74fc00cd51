#include "util/net.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace lifeboat
