#include "agent/http_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/microhttpd_library.hpp"

namespace lifeboat::agent {

struct HttpServer::Impl {
    std::map<std::string, HttpHandler> routes;
    HttpGuard guard;
    MHD_Daemon* daemon = nullptr;

    HttpServerResponse respond(const HttpServerRequest& request) const {
        if (request.method != "GET" && request.method != "HEAD") {
            return {405,
                    "text/plain; charset=utf-8",
                    "only GET and HEAD are served\n",
                    {{"Allow", "GET, HEAD"}}};
        }
        if (guard) {
            if (auto answered = guard(request)) return std::move(*answered);
        }
        const auto route = routes.find(request.path);
        if (route == routes.end()) return {404, "text/plain; charset=utf-8", "not found\n", {}};
        return route->second(request);
    }
};

namespace {

MHD_Result queue(MHD_Connection* connection, const HttpServerResponse& answer) {
    // MUST_COPY: the body is freed when this function returns, the response is sent later.
    MHD_Response* response = MHD_create_response_from_buffer(
        answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, "Content-Type", answer.content_type.c_str());
    for (const auto& [name, value] : answer.headers)
        MHD_add_response_header(response, name.c_str(), value.c_str());
    const MHD_Result queued =
        MHD_queue_response(connection, static_cast<unsigned>(answer.status), response);
    MHD_destroy_response(response);
    return queued;
}

// libmicrohttpd's access handler: called once per request here (every request is answered on
// its first call, before any body is read; GET and HEAD have none).
MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  std::size_t* /*upload_data_size*/, void** /*request_state*/) {
    const auto& impl = *static_cast<const HttpServer::Impl*>(cls);
    HttpServerRequest request{method != nullptr ? method : "", url != nullptr ? url : "", ""};
    if (const char* authorization =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization")) {
        request.authorization = authorization;
    }
    HttpServerResponse response;
    try {
        response = impl.respond(request);
    } catch (const std::exception& e) {
        response = {
            500, "text/plain; charset=utf-8", fmt::format("internal error: {}\n", e.what()), {}};
    } catch (...) {
        response = {500, "text/plain; charset=utf-8", "internal error\n", {}};
    }
    return queue(connection, response);
}

// A listening socket on host:port, or the reason there is none.
struct Listener {
    int fd = -1;
    int family = AF_INET;
    int port = 0;
};

Result<Listener> listen_on(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc =
            getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0) {
        return fail(ErrorCode::unavailable, "cannot listen on {}:{}: {}", host, port,
                    gai_strerror(rc));
    }
    std::string reason = "no address";
    std::optional<Listener> listener;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            reason = std::strerror(errno);
            continue;
        }
        const int on = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            reason = std::strerror(errno);
            close(fd);
            continue;
        }
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        int bound_port = port;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
            bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
        }
        listener = Listener{fd, a->ai_family, bound_port};
        break;
    }
    freeaddrinfo(found);
    if (!listener) {
        return fail(ErrorCode::unavailable, "cannot listen on {}:{}: {}", host, port, reason);
    }
    return *listener;
}

}  // namespace

HttpServer::HttpServer(std::map<std::string, HttpHandler> routes, HttpGuard guard)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->routes = std::move(routes);
    m_impl->guard = std::move(guard);
}

HttpServer::~HttpServer() {
    stop();
}

Result<int> HttpServer::start(const std::string& host, int port) {
    if (m_impl->daemon != nullptr) return fail(ErrorCode::internal, "the server already runs");
    LB_TRY(microhttpd_library::load());
    const Listener listener = LB_TRY(listen_on(host, port));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (listener.family == AF_INET6) flags |= MHD_USE_IPv6;
    // The daemon owns the socket from here: MHD_stop_daemon closes it.
    m_impl->daemon =
        MHD_start_daemon(flags, 0, nullptr, nullptr, &answer, m_impl.get(),
                         MHD_OPTION_LISTEN_SOCKET, listener.fd, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_CONNECTION_LIMIT, k_http_connection_limit, MHD_OPTION_END);
    if (m_impl->daemon == nullptr) {
        close(listener.fd);
        return fail(ErrorCode::io, "cannot start the HTTP server on {}:{} (libmicrohttpd)", host,
                    listener.port);
    }
    return listener.port;
}

void HttpServer::stop() {
    if (m_impl->daemon == nullptr) return;
    MHD_stop_daemon(m_impl->daemon);
    m_impl->daemon = nullptr;
}

}  // namespace lifeboat::agent
