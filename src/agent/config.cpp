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

enum class AlertKeys { all, thresholds_only };

// [schedule] (or a source's [sources.schedule]) over `base`: each key given replaces base's.
Result<SourcePolicy> read_schedule(const std::string& path, const std::string& prefix,
                                   const toml::table& schedule, SourcePolicy base) {
    for (const auto& [k, node] : schedule) {
        const std::string key(k.str());
        const std::string full = prefix + key;
        if (key == "backup_window") {
            const std::string text = LB_TRY(text_of(path, full, node));
            auto window = DailyWindow::parse(text);
            if (!window) {
                return fail(ErrorCode::config, "{}:{}: {}: {}", path, node.source().begin.line,
                            full, window.error().message);
            }
            base.backup_window = std::move(*window);
            continue;
        }
        const auto kind = parse_job_kind(key);
        if (!kind) {
            return fail(ErrorCode::config,
                        "{}:{}: unknown setting '{}' (see docs/configuration.md)", path,
                        node.source().begin.line, full);
        }
        const std::string text = LB_TRY(text_of(path, full, node));
        if (*kind == JobKind::expire && text == "after backup") {
            base.expire_after_backup = true;
            base.schedules.erase(JobKind::expire);
            continue;
        }
        auto parsed = Schedule::parse(text);
        if (!parsed) {
            return fail(ErrorCode::config, "{}:{}: {}: {}", path, node.source().begin.line, full,
                        parsed.error().message);
        }
        if (*kind == JobKind::expire) base.expire_after_backup = false;
        base.schedules.insert_or_assign(*kind, std::move(*parsed));
    }
    return base;
}

// A backup window bounds when a firing of the backup schedule may start: it needs a cron
// schedule (an "every D" cadence has no firing times to hold to a time of day).
Status check_window(const std::string& path, const std::string& prefix,
                    const SourcePolicy& policy) {
    if (!policy.backup_window) return {};
    const auto backup = policy.schedules.find(JobKind::backup);
    if (backup == policy.schedules.end() || backup->second.is_interval()) {
        return fail(ErrorCode::config,
                    "{}: {}backup_window needs a cron backup schedule that fires inside it (such "
                    "as backup = \"0 4 * * *\" with backup_window = \"04:00-05:00\")",
                    path, prefix);
    }
    return {};
}

// [alerts] (or a source's [sources.alerts]: thresholds only) over `base`.
Result<AlertSettings> read_alerts(const std::string& path, const std::string& prefix,
                                  const toml::table& alerts, AlertSettings a, AlertKeys keys) {
    for (const auto& [k, node] : alerts) {
        const std::string key(k.str());
        const std::string full = prefix + key;
        const bool target = key == "webhook" || key == "slack_webhook" || key == "command" ||
                            key == "retries" || key == "first_retry";
        if (target && keys == AlertKeys::thresholds_only) {
            return fail(ErrorCode::config,
                        "{}:{}: '{}': notification targets are agent-wide: set alerts.{} "
                        "(a source sets thresholds only)",
                        path, node.source().begin.line, full, key);
        }
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
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), percent);
            if (ec != std::errc() || std::string_view(end) != "%" || percent <= 0) {
                return fail(ErrorCode::config,
                            "{}:{}: {} '{}' must be a percentage per day such as \"50%\"", path,
                            node.source().begin.line, full, text);
            }
            a.growth_above_percent = percent;
        } else if (key == "slot_keep_above") {
            // "80%" of max_slot_wal_keep_size
            const std::string text = LB_TRY(text_of(path, full, node));
            double percent = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), percent);
            if (ec != std::errc() || std::string_view(end) != "%" || percent <= 0 ||
                percent > 100) {
                return fail(ErrorCode::config,
                            "{}:{}: {} '{}' must be a percentage of max_slot_wal_keep_size such "
                            "as \"80%\" (above 0, at most 100)",
                            path, node.source().begin.line, full, text);
            }
            a.slot_keep_above_percent = percent;
        } else if (key == "history_used_above") {
            // "50%" of the server's change history
            const std::string text = LB_TRY(text_of(path, full, node));
            double percent = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), percent);
            if (ec != std::errc() || std::string_view(end) != "%" || percent <= 0 ||
                percent > 100) {
                return fail(ErrorCode::config,
                            "{}:{}: {} '{}' must be a percentage of the server's change history "
                            "such as \"50%\" (above 0, at most 100)",
                            path, node.source().begin.line, full, text);
            }
            a.history_used_above_percent = percent;
        } else if (key == "slot_retained_above") {
            // "10GB"; an integer is a byte count.
            std::optional<std::uint64_t> bytes;
            std::string text;
            if (const auto* n = node.as_integer()) {
                text = fmt::format("{}", n->get());
                if (n->get() > 0) bytes = static_cast<std::uint64_t>(n->get());
            } else {
                text = LB_TRY(text_of(path, full, node));
                bytes = parse_byte_size(text);
            }
            if (!bytes) {
                return fail(ErrorCode::config,
                            "{}:{}: {} '{}' must be a size such as \"10GB\" (B, kB, MB, GB, TB)",
                            path, node.source().begin.line, full, text);
            }
            a.slot_retained_above = bytes;
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
            return fail(ErrorCode::config,
                        "{}:{}: unknown setting '{}' (see docs/configuration.md)", path,
                        node.source().begin.line, full);
        }
    }
    return a;
}

// One [[sources]] table: its source settings, repositories, and schedule and thresholds over
// the agent-wide ones.
Result<SourceEntry> read_source_entry(const std::string& path, const toml::table& table,
                                      const SourcePolicy& general) {
    SourceEntry out;
    out.line = static_cast<int>(table.source().begin.line);
    out.policy = general;
    const toml::table* schedule = nullptr;
    const toml::table* alerts = nullptr;
    for (const auto& [k, node] : table) {
        const std::string key(k.str());
        const std::string full = "sources." + key;
        if (key == "schedule" && node.as_table()) {
            schedule = node.as_table();
        } else if (key == "alerts" && node.as_table()) {
            alerts = node.as_table();
        } else if (key == "name") {
            out.name = LB_TRY(text_of(path, full, node));
        } else if (key == "kind") {
            out.kind = LB_TRY(text_of(path, full, node));
        } else if (key == "pg") {
            out.pg = LB_TRY(text_of(path, full, node));
        } else if (key == "mongo") {
            out.mongo = LB_TRY(text_of(path, full, node));
        } else if (key == "change_history") {
            out.change_history = LB_TRY(duration_of(path, full, node));
        } else if (key == "pgdata") {
            out.pgdata = LB_TRY(text_of(path, full, node));
        } else if (key == "pg_bin") {
            out.pg_bin = LB_TRY(text_of(path, full, node));
        } else if (key == "run_as") {
            out.run_as = LB_TRY(text_of(path, full, node));
        } else if (key == "repository") {
            out.repository = LB_TRY(text_of(path, full, node));
        } else if (key == "copy_to") {
            out.copy_to = LB_TRY(texts_of(path, full, node));
        } else if (key == "wal_stream") {
            const auto* flag = node.as_boolean();
            if (!flag) {
                return fail(ErrorCode::config, "{}:{}: {} must be true or false", path,
                            node.source().begin.line, full);
            }
            out.wal_stream = flag->get();
        } else if (key == "wal_stream_slot") {
            out.wal_stream_slot = LB_TRY(text_of(path, full, node));
        } else {
            return fail(ErrorCode::config,
                        "{}:{}: unknown setting '{}' (a source takes name, kind, pg, mongo, "
                        "change_history, pgdata, "
                        "pg_bin, run_as, repository, copy_to, wal_stream, wal_stream_slot, "
                        "[sources.schedule] and [sources.alerts])",
                        path, node.source().begin.line, full);
        }
    }
    if (out.wal_stream && out.kind != "postgres-physical") {
        return fail(ErrorCode::config,
                    "{}:{}: sources.wal_stream is for postgres-physical sources (a {} source's "
                    "log is already a stream)",
                    path, out.line, out.kind);
    }
    // A mongodb source connects with a MongoDB URI (mongo), every other kind with pg.
    const bool mongodb = out.kind == "mongodb";
    if (!(mongodb ? out.pg : out.mongo).empty()) {
        return fail(ErrorCode::config, "{}:{}: a {} source takes {}, not {}", path, out.line,
                    out.kind, mongodb ? "mongo" : "pg", mongodb ? "pg" : "mongo");
    }
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"name", &out.name},
                                     {mongodb ? "mongo" : "pg", mongodb ? &out.mongo : &out.pg},
                                     {"repository", &out.repository}}) {
        if (value->empty()) {
            return fail(ErrorCode::config, "{}:{}: a [[sources]] table needs {}", path, out.line,
                        key);
        }
    }
    const std::string prefix = fmt::format("sources.{}.", out.name);
    if (schedule)
        out.policy = LB_TRY(read_schedule(path, prefix + "schedule.", *schedule, out.policy));
    if (alerts) {
        out.policy.alerts = LB_TRY(read_alerts(path, prefix + "alerts.", *alerts, out.policy.alerts,
                                               AlertKeys::thresholds_only));
    }
    LB_CHECK(check_window(path, prefix + "schedule.", out.policy));
    return out;
}

}  // namespace

SourcePolicy policy_of(const SourceSpec& source, const AgentSettings& agent) {
    if (source.policy) return *source.policy;
    return SourcePolicy{agent.schedules, agent.expire_after_backup, agent.backup_window,
                        agent.alerts};
}

const AlertSettings& thresholds_of(const SourceSpec& source, const AlertSettings& fallback) {
    return source.policy ? source.policy->alerts : fallback;
}

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
                out.source_named = true;
            } else if (key == "token") {
                out.token = LB_TRY(text_of(path, full, node));
            } else if (key == "state_dir") {
                out.state_dir = LB_TRY(text_of(path, full, node));
            } else if (key == "probe_interval") {
                out.probe_interval = LB_TRY(duration_of(path, full, node));
            } else if (key == "catalog_refresh") {
                out.catalog_refresh = LB_TRY(duration_of(path, full, node));
            } else if (key == "catalog_refresh_idle") {
                out.catalog_refresh_idle = LB_TRY(duration_of(path, full, node));
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
    SourcePolicy general;
    if (const auto* schedule = table["schedule"].as_table())
        general = LB_TRY(read_schedule(path, "schedule.", *schedule, std::move(general)));
    if (const auto* alerts = table["alerts"].as_table()) {
        general.alerts = LB_TRY(
            read_alerts(path, "alerts.", *alerts, std::move(general.alerts), AlertKeys::all));
    }
    LB_CHECK(check_window(path, "schedule.", general));
    out.schedules = general.schedules;
    out.expire_after_backup = general.expire_after_backup;
    out.backup_window = general.backup_window;
    out.alerts = general.alerts;
    if (const auto* sources = table["sources"].as_array()) {
        if (out.source_named) {
            return fail(ErrorCode::config,
                        "{}: agent.source names the single source; with [[sources]] each table "
                        "has its own name: remove agent.source",
                        path);
        }
        for (const auto& node : *sources) {
            const auto* entry = node.as_table();
            if (!entry) {
                return fail(ErrorCode::config, "{}:{}: sources must be tables ([[sources]])", path,
                            node.source().begin.line);
            }
            out.source_entries.push_back(LB_TRY(read_source_entry(path, *entry, general)));
        }
        for (std::size_t i = 0; i < out.source_entries.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (out.source_entries[i].name == out.source_entries[j].name) {
                    return fail(ErrorCode::config, "{}:{}: two [[sources]] are named '{}'", path,
                                out.source_entries[i].line, out.source_entries[i].name);
                }
            }
        }
    } else if (table.contains("sources")) {
        return fail(ErrorCode::config,
                    "{}: 'sources' must be an array of tables: write each source as [[sources]]",
                    path);
    }
    if (!is_loopback(out.listen_host) && out.token.empty()) {
        return fail(ErrorCode::config,
                    "{}: agent.listen binds {} beyond loopback: set agent.token (clients then "
                    "send 'Authorization: Bearer TOKEN')",
                    path, out.listen_host);
    }
    return out;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() || number == 0) return std::nullopt;
    std::string unit(end, text.data() + text.size());
    while (!unit.empty() && unit.front() == ' ')
        unit.erase(unit.begin());
    static const std::pair<const char*, int> k_units[] = {
        {"", 0},    {"B", 0},  {"kB", 1},  {"KB", 1}, {"KiB", 1}, {"MB", 2},
        {"MiB", 2}, {"GB", 3}, {"GiB", 3}, {"TB", 4}, {"TiB", 4}};
    for (const auto& [name, power] : k_units) {
        if (unit != name) continue;
        std::uint64_t bytes = number;
        for (int i = 0; i < power; ++i) {
            if (bytes > (std::uint64_t{1} << 53)) return std::nullopt;  // absurd
            bytes *= 1024;
        }
        return bytes;
    }
    return std::nullopt;
}

}  // namespace lifeboat::agent
