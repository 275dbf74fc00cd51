#include "agent/alerts.hpp"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "storage/s3/s3_http.hpp"
#include "util/process.hpp"

namespace lifeboat::agent {

namespace {

// How messages name a webhook: its scheme, host and port, never its path or query (a Slack
// webhook's path is its secret, and these messages go to the agent's log).
std::string webhook_name(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) return "a webhook";
    const auto path = url.find_first_of("/?#", scheme + 3);
    std::string authority =
        url.substr(scheme + 3, path == std::string::npos ? std::string::npos : path - scheme - 3);
    // user:password@ is a secret too.
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
    return fmt::format("{}://{}{}", url.substr(0, scheme), authority,
                       path == std::string::npos ? "" : "/…");
}

std::string post(const std::string& url, const std::string& body) {
    const std::string name = webhook_name(url);
    if (!url.starts_with("http://") && !url.starts_with("https://"))
        return fmt::format("{}: not an http:// or https:// URL", name);
    s3::TransportOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(10);
    const auto response =
        s3::perform({"POST", url, {{"Content-Type", "application/json"}}, body}, options);
    if (!response) {
        // perform's message starts "POST <url>: "; only the reason after it is kept.
        std::string reason = response.error().message;
        if (const std::string prefix = "POST " + url + ": "; reason.starts_with(prefix))
            reason.erase(0, prefix.size());
        else
            reason = "no response";
        return fmt::format("{}: {}", name, reason);
    }
    if (response->status < 200 || response->status >= 300)
        return fmt::format("{}: HTTP status {}", name, response->status);
    return "";
}

std::string run_command(const std::string& command, const Notification& n) {
    ProcessOptions options;
    options.environment = {{"LIFEBOAT_ALERT", n.alert},
                           {"LIFEBOAT_ALERT_STATE", n.state},
                           {"LIFEBOAT_ALERT_SOURCE", n.source},
                           {"LIFEBOAT_ALERT_MESSAGE", n.message},
                           {"LIFEBOAT_ALERT_JSON", notification_json(n)}};
    const auto result = run_process({"/bin/sh", "-c", command}, options);
    if (!result) return fmt::format("alert command: {}", result.error().message);
    if (result->exit_status != 0)
        return fmt::format("alert command exited with status {}", result->exit_status);
    return "";
}

}  // namespace

std::string notification_json(const Notification& n) {
    return nlohmann::json{{"alert", n.alert},
                          {"state", n.state},
                          {"source", n.source},
                          {"value", n.value},
                          {"threshold", n.threshold},
                          {"message", n.message},
                          {"time", format_iso8601(n.at)}}
        .dump();
}

std::string slack_json(const Notification& n) {
    return nlohmann::json{{"text", fmt::format("[{}] lifeboat {} on {}: {}",
                                               n.state == "firing" ? "FIRING" : "RESOLVED", n.alert,
                                               n.source, n.message)}}
        .dump();
}

void AlertTracker::restore(FiringAlerts firing) {
    std::lock_guard lock(m_mutex);
    m_firing = std::move(firing);
}

FiringAlerts AlertTracker::firing() const {
    std::lock_guard lock(m_mutex);
    return m_firing;
}

Status save_firing(const fs::path& dir, const FiringAlerts& firing) {
    if (dir.empty()) return {};
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [key, since] : firing)
        out.push_back({{"source", key.first}, {"alert", key.second}, {"since", since.micros}});
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path tmp = dir / "alerts.json.tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << out.dump() << '\n';
        f.flush();
        if (!f) return fail(ErrorCode::io, "cannot write {}", tmp.string());
    }
    fs::rename(tmp, dir / "alerts.json", ec);
    if (ec)
        return fail(ErrorCode::io, "cannot replace {}: {}", (dir / "alerts.json").string(),
                    ec.message());
    return {};
}

FiringAlerts read_firing(const fs::path& dir) {
    FiringAlerts out;
    if (dir.empty()) return out;
    std::ifstream f(dir / "alerts.json");
    const auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return out;
    for (const auto& a : j) {
        if (!a.is_object() || !a.contains("source") || !a["source"].is_string() ||
            !a.contains("alert") || !a["alert"].is_string() || !a.contains("since") ||
            !a["since"].is_number_integer()) {
            continue;
        }
        out[{a["source"].get<std::string>(), a["alert"].get<std::string>()}] =
            Timestamp{a["since"].get<std::int64_t>()};
    }
    return out;
}

std::vector<Notification> AlertTracker::update(std::vector<AlertStatus>& current, Timestamp now) {
    std::lock_guard lock(m_mutex);
    std::vector<Notification> out;
    std::map<std::pair<std::string, std::string>, Timestamp> still;
    for (auto& a : current) {
        const auto key = std::pair{a.source, a.name};
        const auto was = m_firing.find(key);
        if (a.firing) {
            a.since = was == m_firing.end() ? now : was->second;
            still[key] = *a.since;
            if (was == m_firing.end())
                out.push_back({a.name, "firing", a.source, a.value, a.threshold, a.message, now});
        } else if (was != m_firing.end()) {
            out.push_back({a.name, "resolved", a.source, a.value, a.threshold, a.message, now});
        }
    }
    // A rule that no longer has a value (its threshold removed by a reload) resolves quietly.
    m_firing = std::move(still);
    return out;
}

std::string deliver(const AlertSettings& settings, const Notification& n,
                    const std::function<bool(std::chrono::milliseconds)>& wait) {
    std::vector<std::function<std::string()>> targets;
    for (const auto& url : settings.webhooks)
        targets.push_back([&] { return post(url, notification_json(n)); });
    for (const auto& url : settings.slack_webhooks)
        targets.push_back([&] { return post(url, slack_json(n)); });
    if (!settings.command.empty())
        targets.push_back([&] { return run_command(settings.command, n); });
    std::string failures;
    for (const auto& target : targets) {
        auto delay = settings.first_retry;
        std::string error = target();
        for (unsigned attempt = 0; !error.empty() && attempt < settings.retries; ++attempt) {
            if (!wait(delay)) break;
            delay *= 2;
            error = target();
        }
        if (!error.empty()) failures += (failures.empty() ? "" : "; ") + error;
    }
    return failures;
}

Notifier::Notifier(AlertSettings settings)
    : m_settings(std::move(settings)), m_thread([this] { run(); }) {}

Notifier::~Notifier() {
    stop();
}

void Notifier::set_settings(AlertSettings settings) {
    std::lock_guard lock(m_mutex);
    m_settings = std::move(settings);
}

void Notifier::send(std::vector<Notification> notifications) {
    if (notifications.empty()) return;
    {
        std::lock_guard lock(m_mutex);
        for (auto& n : notifications)
            m_queue.push_back(std::move(n));
    }
    m_wake.notify_all();
}

void Notifier::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void Notifier::run() {
    std::unique_lock lock(m_mutex);
    while (true) {
        m_wake.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
        if (m_stopping) return;
        const Notification n = std::move(m_queue.front());
        m_queue.pop_front();
        const AlertSettings settings = m_settings;
        lock.unlock();
        const std::string failures = deliver(settings, n, [this](std::chrono::milliseconds d) {
            std::unique_lock wait_lock(m_mutex);
            return !m_wake.wait_for(wait_lock, d, [&] { return m_stopping; });
        });
        if (!failures.empty()) {
            std::fprintf(stderr, "lifeboat agent: warning: alert %s (%s) not delivered: %s\n",
                         n.alert.c_str(), n.state.c_str(), failures.c_str());
        }
        lock.lock();
    }
}

}  // namespace lifeboat::agent
