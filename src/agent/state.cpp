#include "agent/state.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

namespace lifeboat::agent {

void AgentState::set_sources(const std::vector<SourceSpec>& sources,
                             std::optional<std::chrono::seconds> rto) {
    std::lock_guard lock(m_mutex);
    std::vector<SourceState> next;
    for (const auto& spec : sources) {
        SourceState s;
        // A reload keeps what is known of a source of the same name.
        for (auto& old : m_sources)
            if (old.spec.name == spec.name) s = std::move(old);
        s.spec = spec;
        next.push_back(std::move(s));
    }
    m_sources = std::move(next);
    m_rto_target = rto;
}

SourceState* AgentState::find(const std::string& source) {
    for (auto& s : m_sources)
        if (s.spec.name == source) return &s;
    return nullptr;
}

void AgentState::job_started(const std::string& source, JobKind kind, Timestamp at) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) {
        s->running = kind;
        s->running_since = at;
    }
}

void AgentState::job_finished(JobRecord record) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(record.source); s && record.skipped) {
        ++s->skipped[record.kind];
    } else if (s) {
        // A capture is no job of the scheduler: its failure leaves a running job as it is.
        if (s->running == record.kind) {
            s->running.reset();
            s->running_since.reset();
        }
        s->last_job[record.kind] = record;
        if (record.ok) {
            s->last_success[record.kind] = record.started;
        } else {
            ++s->failures[record.kind];
        }
    }
    m_history.push_back(std::move(record));
    while (m_history.size() > k_history_kept)
        m_history.pop_front();
}

void AgentState::drill_measured(const std::string& source, const JobOutcome& outcome) {
    std::lock_guard lock(m_mutex);
    auto* s = find(source);
    if (!s || !outcome.rto_seconds || outcome.replay_bytes == 0) return;
    // Replay faster than measurable (a tiny archive) says nothing about a large one: keep the
    // earlier figure then.
    if (outcome.replay_seconds >= 0.05)
        s->replay_bytes_per_second = outcome.replay_bytes / outcome.replay_seconds;
    s->rto_fixed_seconds = std::max(0.0, *outcome.rto_seconds - outcome.replay_seconds);
}

void AgentState::restore_history(std::vector<JobRecord> records) {
    std::lock_guard lock(m_mutex);
    for (auto& r : records) {
        if (auto* s = find(r.source); s && !r.skipped) {
            s->last_job[r.kind] = r;
            if (r.ok) s->last_success[r.kind] = r.started;
        }
        m_history.push_back(std::move(r));
    }
    while (m_history.size() > k_history_kept)
        m_history.pop_front();
}

void AgentState::catalog_loaded(const std::string& source, Result<CatalogSummary> catalog,
                                Timestamp at) {
    std::lock_guard lock(m_mutex);
    auto* s = find(source);
    if (!s) return;
    if (!catalog) {
        if (s->catalog_error.empty()) s->catalog_error_since = at;
        s->catalog_error = catalog.error().message;
        return;
    }
    s->catalog_error.clear();
    s->catalog_error_since.reset();
    catalog->loaded_at = at;
    s->size_samples.emplace_back(at, catalog->stored_bytes);
    constexpr std::int64_t k_kept = 25LL * 3600 * 1000000;
    while (s->size_samples.size() > 1 && at.micros - s->size_samples.front().first.micros > k_kept)
        s->size_samples.pop_front();
    s->catalog = std::move(*catalog);
    // The newest stored commit against the time its object was stored (the capture reports
    // each object when push_wal returned): the last commit's commit-to-stored lag.
    if (s->stream && s->capture_stored_at && s->catalog->window_end &&
        *s->catalog->window_end <= *s->capture_stored_at && s->capture_stored_at > s->lag_from) {
        s->capture_lag_seconds =
            (s->capture_stored_at->micros - s->catalog->window_end->micros) / 1e6;
        s->lag_from = s->capture_stored_at;
    }
}

void AgentState::probed(const std::string& source, Result<SourceProbe> probe, Timestamp at) {
    std::lock_guard lock(m_mutex);
    auto* s = find(source);
    if (!s) return;
    s->probed_at = at;
    if (!probe) {
        s->probe_error = probe.error().message;
        return;
    }
    s->probe_error.clear();
    const bool moved = !s->probe || s->probe->last_archived_wal != probe->last_archived_wal;
    // Only a fully archived server sets the baseline: after the archive merely moved on, the
    // current segment may already hold changes of transactions that took their ids earlier.
    if (probe->lag_bytes == 0) s->caught_up_xid = probe->next_xid;
    const bool no_data_pending = probe->ready_segments == 0 && probe->next_xid &&
                                 s->caught_up_xid && *probe->next_xid == *s->caught_up_xid;
    if (probe->lag_bytes == 0 || no_data_pending) {
        s->behind_since.reset();
    } else if (probe->oldest_unarchived_change) {
        s->behind_since = std::min(*probe->oldest_unarchived_change, at);  // the driver knows
    } else if (!s->behind_since || moved) {
        // The archive moved on but the server is still ahead: the pending changes are at most
        // as old as this observation.
        s->behind_since = at;
    }
    s->probe = std::move(*probe);
}

void AgentState::set_next_backup(const std::string& source, std::optional<Timestamp> at) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) s->next_backup = at;
}

void AgentState::set_stream(const std::string& source, bool stream) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) s->stream = stream;
}

void AgentState::capture_running(const std::string& source, bool up) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) s->capture_up = up;
}

void AgentState::capture_stored(const std::string& source, Timestamp at) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) s->capture_stored_at = at;
}

void AgentState::capture_lag(const std::string& source, double seconds) {
    std::lock_guard lock(m_mutex);
    if (auto* s = find(source)) s->capture_lag_seconds = seconds;
}

void AgentState::set_alerts(std::vector<AlertStatus> alerts) {
    std::lock_guard lock(m_mutex);
    m_alerts = std::move(alerts);
}

void AgentState::set_reload(std::string config_file, std::optional<Timestamp> at,
                            std::string error) {
    std::lock_guard lock(m_mutex);
    m_config_file = std::move(config_file);
    if (at) m_reloaded_at = at;
    m_reload_error = std::move(error);
}

StateSnapshot AgentState::snapshot(Timestamp now) const {
    std::lock_guard lock(m_mutex);
    return {m_started,     now,
            m_sources,     std::vector<JobRecord>(m_history.begin(), m_history.end()),
            m_alerts,      m_rto_target,
            m_config_file, m_reloaded_at,
            m_reload_error};
}

Status append_history(const fs::path& dir, const JobRecord& r) {
    if (dir.empty()) return {};
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::ofstream out(dir / "history.jsonl", std::ios::app);
    out << nlohmann::json{{"source", r.source},
                          {"kind", job_kind_name(r.kind)},
                          {"trigger", r.trigger},
                          {"started", r.started.micros},
                          {"finished", r.finished.micros},
                          {"ok", r.ok},
                          {"bytes", r.bytes},
                          {"message", r.message},
                          {"skipped", r.skipped}}
               .dump()
        << '\n';
    out.flush();
    if (!out) return fail(ErrorCode::io, "cannot append to {}", (dir / "history.jsonl").string());
    return {};
}

std::vector<JobRecord> read_history(const fs::path& dir) {
    std::vector<JobRecord> out;
    if (dir.empty()) return out;
    std::ifstream in(dir / "history.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) continue;
        try {
            const std::string name = j.at("kind").get<std::string>();
            // A capture's failed runs are kept too (capture is no scheduled kind).
            const auto kind = name == job_kind_name(JobKind::capture)
                                  ? std::optional<JobKind>(JobKind::capture)
                                  : parse_job_kind(name);
            if (!kind) continue;
            out.push_back({j.at("source").get<std::string>(), *kind,
                           j.at("trigger").get<std::string>(),
                           Timestamp{j.at("started").get<std::int64_t>()},
                           Timestamp{j.at("finished").get<std::int64_t>()}, j.at("ok").get<bool>(),
                           j.at("bytes").get<std::uint64_t>(), j.at("message").get<std::string>(),
                           j.value("skipped", false)});
        } catch (const nlohmann::json::exception&) {
            continue;  // a line cut short by a crash
        }
    }
    if (out.size() > k_history_kept) out.erase(out.begin(), out.end() - k_history_kept);
    return out;
}

}  // namespace lifeboat::agent
