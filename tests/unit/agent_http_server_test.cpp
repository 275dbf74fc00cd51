// The agent's HTTP server (agent/http_server.hpp) over loopback, read with the same libcurl
// request the agent's clients use: routes, status codes, the guard, HEAD, failures to listen, and
// `lifeboat status`'s side of the API (agent/client.hpp), and how a failed webhook is named.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/alerts.hpp"
#include "agent/client.hpp"
#include "agent/http_server.hpp"
#include "storage/s3/s3_http.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

std::expected<s3::HttpResponse, s3::TransportError> request(const std::string& method, int port,
                                                            const std::string& path,
                                                            s3::HeaderList headers = {}) {
    s3::TransportOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(10);
    return s3::perform(
        {method, fmt::format("http://127.0.0.1:{}{}", port, path), std::move(headers), {}},
        options);
}

std::map<std::string, HttpHandler> routes() {
    std::map<std::string, HttpHandler> r;
    r["/"] = [](const HttpServerRequest&) {
        return HttpServerResponse{200, "text/html; charset=utf-8", "<p>page</p>", {}};
    };
    r["/api/status"] = [](const HttpServerRequest& q) {
        return HttpServerResponse{
            200, "application/json", "{\"method\":\"" + q.method + "\"}", {{"X-Seen", q.path}}};
    };
    r["/boom"] = [](const HttpServerRequest&) -> HttpServerResponse {
        throw std::runtime_error("handler failed");
    };
    return r;
}

}  // namespace

TEST(AgentHttpServer, ServesItsRoutesOnAFreePortAndAnswers404And405) {
    HttpServer server(routes());
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().message;
    ASSERT_GT(*port, 0);

    auto page = request("GET", *port, "/");
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->body, "<p>page</p>");
    EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");

    // The query string is not part of the path a route matches.
    auto status = request("GET", *port, "/api/status?pretty=1");
    ASSERT_TRUE(status);
    EXPECT_EQ(status->status, 200);
    EXPECT_EQ(status->body, "{\"method\":\"GET\"}");
    EXPECT_EQ(status->header("x-seen"), "/api/status");

    auto head = request("HEAD", *port, "/api/status");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->header("content-length"), "17");  // {"method":"HEAD"}

    auto missing = request("GET", *port, "/nothing");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);

    auto post = request("POST", *port, "/api/status");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->header("allow"), "GET, HEAD");
}

TEST(AgentHttpServer, AHandlerThatThrowsIsA500AndTheServerGoesOn) {
    HttpServer server(routes());
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    auto boom = request("GET", *port, "/boom");
    ASSERT_TRUE(boom);
    EXPECT_EQ(boom->status, 500);
    EXPECT_NE(boom->body.find("handler failed"), std::string::npos);
    auto page = request("GET", *port, "/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
}

TEST(AgentHttpServer, TheGuardAnswersBeforeAnyRouteAndEvenFor404) {
    HttpGuard guard = [](const HttpServerRequest& q) -> std::optional<HttpServerResponse> {
        if (q.authorization == "Bearer s3cret") return std::nullopt;
        return HttpServerResponse{
            401, "text/plain", "unauthorized\n", {{"WWW-Authenticate", "Bearer"}}};
    };
    HttpServer server(routes(), guard);
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    for (const std::string path : {"/", "/nothing"}) {
        auto refused = request("GET", *port, path);
        ASSERT_TRUE(refused);
        EXPECT_EQ(refused->status, 401) << path;
        EXPECT_EQ(refused->header("www-authenticate"), "Bearer");
        auto wrong = request("GET", *port, path, {{"Authorization", "Bearer other"}});
        ASSERT_TRUE(wrong);
        EXPECT_EQ(wrong->status, 401) << path;
    }
    auto allowed = request("GET", *port, "/", {{"Authorization", "Bearer s3cret"}});
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200);
}

TEST(AgentHttpServer, APortInUseOrAnUnknownHostIsUnavailableAndNamesTheAddress) {
    HttpServer first(routes());
    const auto port = first.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    HttpServer second(routes());
    const auto taken = second.start("127.0.0.1", *port);
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.error().code, ErrorCode::unavailable);
    EXPECT_NE(taken.error().message.find(fmt::format("127.0.0.1:{}", *port)), std::string::npos)
        << taken.error().message;
    EXPECT_NE(taken.error().message.find("in use"), std::string::npos) << taken.error().message;

    HttpServer third(routes());
    const auto unknown = third.start("no-such-host.invalid", 0);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::unavailable);
    EXPECT_NE(unknown.error().message.find("no-such-host.invalid"), std::string::npos);
}

TEST(AgentHttpServer, ConnectionsBeyondTheLimitWaitUntilOneCloses) {
    HttpServer server(routes());
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(*port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<int> idle;
    for (unsigned i = 0; i < k_http_connection_limit; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        idle.push_back(fd);
    }
    // Every slot is held by a connection that sends nothing: a request gets no answer (curl
    // gives up after a second without a byte).
    s3::TransportOptions patient;
    patient.connect_timeout = std::chrono::seconds(1);
    patient.stall_timeout = std::chrono::seconds(1);
    const std::string url = fmt::format("http://127.0.0.1:{}/", *port);
    EXPECT_FALSE(s3::perform({"GET", url, {}, {}}, patient));
    for (const int fd : idle)
        close(fd);
    // The slots free, the next request is served.
    auto served = s3::perform({"GET", url, {}, {}}, patient);
    for (int tries = 0; tries < 50 && !served; ++tries)
        served = s3::perform({"GET", url, {}, {}}, patient);
    ASSERT_TRUE(served) << served.error().message;
    EXPECT_EQ(served->status, 200);
}

TEST(AgentHttpServer, AfterStopNothingAnswersAndStopIsIdempotent) {
    HttpServer server(routes());
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    ASSERT_TRUE(request("GET", *port, "/"));
    server.stop();
    server.stop();
    EXPECT_FALSE(request("GET", *port, "/"));
    // The port is free again.
    HttpServer again(routes());
    const auto reused = again.start("127.0.0.1", *port);
    EXPECT_TRUE(reused) << reused.error().message;
}

TEST(AgentHttpServer, ListensOnIpv6LoopbackWhenTheMachineHasIt) {
    const int probe = socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 loopback{};
    loopback.sin6_family = AF_INET6;
    loopback.sin6_addr = in6addr_loopback;
    const bool has_ipv6 =
        probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) == 0;
    if (probe >= 0) close(probe);
    if (!has_ipv6) GTEST_SKIP() << "no IPv6 loopback here";
    HttpServer server(routes());
    const auto port = server.start("::1", 0);
    ASSERT_TRUE(port) << port.error().message;
    AgentSettings settings;
    settings.listen_host = "::1";
    settings.listen_port = *port;
    const auto body = fetch_status(settings);
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "{\"method\":\"GET\"}");
}

TEST(AgentClient, FetchStatusSendsTheTokenAndTellsRefusalFromAbsence) {
    HttpGuard guard = [](const HttpServerRequest& q) -> std::optional<HttpServerResponse> {
        if (q.authorization == "Bearer t0ken") return std::nullopt;
        return HttpServerResponse{401, "text/plain", "unauthorized\n", {}};
    };
    HttpServer server(routes(), guard);
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    AgentSettings settings;
    settings.listen_host = "0.0.0.0";  // a wildcard address is reached through loopback
    settings.listen_port = *port;
    settings.token = "t0ken";
    const auto body = fetch_status(settings);
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "{\"method\":\"GET\"}");

    settings.token = "wrong";
    const auto refused = fetch_status(settings);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::config);

    server.stop();
    settings.token = "t0ken";
    const auto absent = fetch_status(settings);
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code, ErrorCode::unavailable);
    EXPECT_NE(absent.error().message.find("no agent answers at 127.0.0.1:"), std::string::npos)
        << absent.error().message;
}

TEST(AgentAlerts, AWebhookThatFailsIsNamedByItsHostNeverItsPathOrCredentials) {
    HttpServer server(routes());  // answers a POST with 405
    const auto port = server.start("127.0.0.1", 0);
    ASSERT_TRUE(port);
    HttpServer closed(routes());
    const auto closed_port = closed.start("127.0.0.1", 0);
    ASSERT_TRUE(closed_port);
    closed.stop();

    AlertSettings settings;
    settings.retries = 0;
    settings.webhooks = {
        fmt::format("http://user:pa55@127.0.0.1:{}/services/T0/B0/SECRET?key=SECRET2", *port)};
    settings.slack_webhooks = {
        fmt::format("http://127.0.0.1:{}/services/T0/B0/SECRET3", *closed_port)};
    const Notification n{"test", "firing", "db1", "0", "0", "a test", Timestamp{}};
    const std::string failures =
        deliver(settings, n, [](std::chrono::milliseconds) { return true; });
    EXPECT_NE(failures.find(fmt::format("http://127.0.0.1:{}/…: HTTP status 405", *port)),
              std::string::npos)
        << failures;
    EXPECT_NE(failures.find(fmt::format("http://127.0.0.1:{}/…: ", *closed_port)),
              std::string::npos)
        << failures;
    for (const char* secret : {"SECRET", "pa55", "services", "key="})
        EXPECT_EQ(failures.find(secret), std::string::npos) << secret << " in: " << failures;
}
