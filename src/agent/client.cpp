#include "agent/client.hpp"

#include <thread>

#include <httplib.h>

#include "agent/alerts.hpp"

namespace lifeboat::agent {

Result<std::string> fetch_status(const AgentSettings& settings) {
    // A wildcard listen address is reached through loopback.
    std::string host = settings.listen_host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    httplib::Client client(host, settings.listen_port);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    httplib::Headers headers;
    if (!settings.token.empty()) headers.emplace("Authorization", "Bearer " + settings.token);
    const auto response = client.Get("/api/status", headers);
    const std::string where = fmt::format("{}:{}", host, settings.listen_port);
    if (!response) {
        return fail(ErrorCode::unavailable,
                    "no agent answers at {} ({}): is `lifeboat agent` running with this "
                    "configuration?",
                    where, httplib::to_string(response.error()));
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
