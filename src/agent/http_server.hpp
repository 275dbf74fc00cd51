// A small HTTP/1.1 server for the agent's read-only endpoints (/metrics, /api/status, the status
// page), over GNU libmicrohttpd, which is loaded by start() (agent/microhttpd_library.hpp).
//
// Contract: GET and HEAD only (any other method is 405 with "Allow: GET, HEAD"); a path is
// matched exactly, without its query string; an unknown path is 404. The guard, when set, sees
// every request first and answers it instead of the route when it returns a response (the bearer
// token check). Handlers and the guard run on the server's own thread, one request at a time, and
// must be quick; an exception from one is a 500, never a crash. At most k_http_connection_limit
// connections are open at once (more wait in the listen queue until one closes), and one idle
// for 30 s is closed. The server listens from start() until stop() (or destruction); stop()
// waits for the request in progress.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace lifeboat::agent {

struct HttpServerRequest {
    std::string method;         // GET or HEAD
    std::string path;           // "/metrics", without the query string
    std::string authorization;  // the Authorization header, empty when absent
};

struct HttpServerResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};

inline constexpr unsigned k_http_connection_limit = 64;

using HttpHandler = std::function<HttpServerResponse(const HttpServerRequest&)>;
using HttpGuard = std::function<std::optional<HttpServerResponse>(const HttpServerRequest&)>;

class HttpServer {
  public:
    HttpServer(std::map<std::string, HttpHandler> routes, HttpGuard guard = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Listens on `host` (an address or a name of this machine; "0.0.0.0" or "::" for every
    // address) and `port` (0: any free port) and serves from then on. Returns the port listened
    // on. ErrorCode::unavailable when the address cannot be listened on (the reason in the
    // message), ErrorCode::io when libmicrohttpd cannot be loaded or started.
    Result<int> start(const std::string& host, int port);
    // Stops listening; idempotent.
    void stop();

    struct Impl;

  private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace lifeboat::agent
