#include "agent/client.hpp"

#include <thread>

#include "agent/alerts.hpp"
#include "storage/s3/s3_http.hpp"

namespace lifeboat::agent {

Result<std::string> fetch_status(const AgentSettings& settings) {
    // A wildcard listen address is reached through loopback.
    std::string host = settings.listen_host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    // An IPv6 address is bracketed in a URL.
    const std::string where = host.find(':') != std::string::npos
                                  ? fmt::format("[{}]:{}", host, settings.listen_port)
                                  : fmt::format("{}:{}", host, settings.listen_port);
    s3::HeaderList headers;
    if (!settings.token.empty()) headers.emplace_back("Authorization", "Bearer " + settings.token);
    s3::TransportOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(10);
    const auto response =
        s3::perform({"GET", fmt::format("http://{}/api/status", where), headers, {}}, options);
    if (!response) {
        return fail(ErrorCode::unavailable,
                    "no agent answers at {} ({}): is `lifeboat agent` running with this "
                    "configuration?",
                    where, response.error().message);
    }
    if (response->status == 401)
        return fail(ErrorCode::config, "the agent at {} refused agent.token", where);
    if (response->status != 200)
        return fail(ErrorCode::unavailable, "the agent at {} answered HTTP {}", where,
                    response->status);
    return response->body;
}

Status send_test_notification(const AlertSettings& settings, const std::string& source,
                              Timestamp now) {
    if (settings.webhooks.empty() && settings.slack_webhooks.empty() && settings.command.empty()) {
        return fail(ErrorCode::config,
                    "no alert target: set alerts.webhook, alerts.slack_webhook or alerts.command");
    }
    const Notification n{"test",
                         "firing",
                         source,
                         "0",
                         "0",
                         "This is a test notification from `lifeboat alert-test`: alerts reach "
                         "you.",
                         now};
    const std::string failures = deliver(settings, n, [](std::chrono::milliseconds d) {
        std::this_thread::sleep_for(d);
        return true;
    });
    if (!failures.empty()) return fail(ErrorCode::unavailable, "alert not delivered: {}", failures);
    return {};
}

}  // namespace lifeboat::agent
