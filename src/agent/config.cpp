#include "agent/config.hpp"

#include <charconv>

#include <toml++/toml.h>

namespace lifeboat::agent {

namespace {

Result<std::string> text_of(const std::string& path, const std::string& key,
                            const toml::node& node) {
    if (const auto* s = node.as_string()) return s->get();
    return fail(ErrorCode::config, "{}:{}: '{}' must be a string (in double quotes)", path,
                node.source().begin.line, key);
}

Result<std::chrono::seconds> duration_of(const std::string& path, const std::string& key,
                                         const toml::node& node) {
    const std::string text = LB_TRY(text_of(path, key, node));
    auto d = parse_duration(text);
    if (!d) {
        return fail(ErrorCode::config, "{}:{}: '{}': {}", path, node.source().begin.line, key,
                    d.error().message);
    }
    return *d;
}

// A string or a list of strings.
Result<std::vector<std::string>> texts_of(const std::string& path, const std::string& key,
                                          const toml::node& node) {
    std::vector<std::string> out;
    if (const auto* list = node.as_array()) {
        for (const auto& item : *list)
            out.push_back(LB_TRY(text_of(path, key, item)));
        return out;
    }
    out.push_back(LB_TRY(text_of(path, key, node)));
    return out;
}

Status read_listen(const std::string& path, const toml::node& node, AgentSettings& out) {
    const std::string text = LB_TRY(text_of(path, "agent.listen", node));
    const auto colon = text.rfind(':');
    int port = 0;
    const char* begin = colon == std::string::npos ? nullptr : text.data() + colon + 1;
    if (begin) {
        const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), port);
        if (ec != std::errc() || end != text.data() + text.size()) begin = nullptr;
    }
    if (!begin || colon == 0 || port < 0 || port > 65535) {
        return fail(ErrorCode::config, "{}:{}: agent.listen '{}' must be HOST:PORT", path,
                    node.source().begin.line, text);
    }
    out.listen_host = text.substr(0, colon);
    if (out.listen_host.size() > 2 && out.listen_host.front() == '[')
        out.listen_host = out.listen_host.substr(1, out.listen_host.size() - 2);
    out.listen_port = port;
    return {};
}

}  // namespace

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Result<AgentSettings> read_agent_settings(const std::string& path) {
    AgentSettings out;
    toml::table table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        return fail(ErrorCode::config, "{}:{}:{}: {}", path, e.source().begin.line,
                    e.source().begin.column, e.description());
    }
    auto unknown = [&](const std::string& key, const toml::node& node) {
        return fail(ErrorCode::config, "{}:{}: unknown setting '{}' (see docs/configuration.md)",
                    path, node.source().begin.line, key);
    };
    if (const auto* agent = table["agent"].as_table()) {
        for (const auto& [k, node] : *agent) {
            const std::string key(k.str());
            const std::string full = "agent." + key;
            if (key == "listen") {
                LB_CHECK(read_listen(path, node, out));
            } else if (key == "source") {
                out.source_name = LB_TRY(text_of(path, full, node));
            } else if (key == "token") {
                out.token = LB_TRY(text_of(path, full, node));
            } else if (key == "state_dir") {
                out.state_dir = LB_TRY(text_of(path, full, node));
            } else if (key == "probe_interval") {
                out.probe_interval = LB_TRY(duration_of(path, full, node));
            } else if (key == "catalog_refresh") {
                out.catalog_refresh = LB_TRY(duration_of(path, full, node));
            } else if (key == "rto_target") {
                out.rto_target = LB_TRY(duration_of(path, full, node));
            } else if (key == "drill_checks") {
                out.drill_checks = LB_TRY(text_of(path, full, node));
            } else if (key == "drill_target") {
                out.drill_target = LB_TRY(text_of(path, full, node));
                if (out.drill_target != "latest" && !parse_duration(out.drill_target)) {
                    return fail(ErrorCode::config,
                                "{}:{}: agent.drill_target '{}' must be a duration before now "
                                "(\"1h\") or \"latest\"",
                                path, node.source().begin.line, out.drill_target);
                }
            } else {
                return unknown(full, node);
            }
        }
    }
    if (const auto* schedule = table["schedule"].as_table()) {
        for (const auto& [k, node] : *schedule) {
            const std::string key(k.str());
            const auto kind = parse_job_kind(key);
            if (!kind) return unknown("schedule." + key, node);
            const std::string text = LB_TRY(text_of(path, "schedule." + key, node));
            if (*kind == JobKind::expire && text == "after backup") {
                out.expire_after_backup = true;
                continue;
            }
            auto parsed = Schedule::parse(text);
            if (!parsed) {
                return fail(ErrorCode::config, "{}:{}: schedule.{}: {}", path,
                            node.source().begin.line, key, parsed.error().message);
            }
            out.schedules.emplace(*kind, std::move(*parsed));
        }
    }
    if (const auto* alerts = table["alerts"].as_table()) {
        AlertSettings& a = out.alerts;
        for (const auto& [k, node] : *alerts) {
            const std::string key(k.str());
            const std::string full = "alerts." + key;
            if (key == "webhook") {
                a.webhooks = LB_TRY(texts_of(path, full, node));
            } else if (key == "slack_webhook") {
                a.slack_webhooks = LB_TRY(texts_of(path, full, node));
            } else if (key == "command") {
                a.command = LB_TRY(text_of(path, full, node));
            } else if (key == "rpo_above") {
                a.rpo_above = LB_TRY(duration_of(path, full, node));
            } else if (key == "backup_older_than") {
                a.backup_older_than = LB_TRY(duration_of(path, full, node));
            } else if (key == "drill_older_than") {
                a.drill_older_than = LB_TRY(duration_of(path, full, node));
            } else if (key == "copy_lag_above") {
                a.copy_lag_above = LB_TRY(duration_of(path, full, node));
            } else if (key == "growth_above") {
                // "50%" (per day)
                const std::string text = LB_TRY(text_of(path, full, node));
                double percent = 0;
                const auto [end, ec] =
                    std::from_chars(text.data(), text.data() + text.size(), percent);
                if (ec != std::errc() || std::string_view(end) != "%" || percent <= 0) {
                    return fail(ErrorCode::config,
                                "{}:{}: alerts.growth_above '{}' must be a percentage per day "
                                "such as \"50%\"",
                                path, node.source().begin.line, text);
                }
                a.growth_above_percent = percent;
            } else if (key == "retries") {
                const auto* n = node.as_integer();
                if (!n || n->get() < 0 || n->get() > 100) {
                    return fail(ErrorCode::config, "{}:{}: alerts.retries must be 0..100", path,
                                node.source().begin.line);
                }
                a.retries = static_cast<unsigned>(n->get());
            } else if (key == "first_retry") {
                a.first_retry = LB_TRY(duration_of(path, full, node));
            } else {
                return unknown(full, node);
            }
        }
    }
    if (!is_loopback(out.listen_host) && out.token.empty()) {
        return fail(ErrorCode::config,
                    "{}: agent.listen binds {} beyond loopback: set agent.token (clients then "
                    "send 'Authorization: Bearer TOKEN')",
                    path, out.listen_host);
    }
    return out;
}

}  // namespace lifeboat::agent
