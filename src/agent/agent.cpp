#include "agent/agent.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "agent/alerts.hpp"
#include "agent/figures.hpp"
#include "agent/http_server.hpp"
#include "agent/page.hpp"
#include "agent/scheduler.hpp"

namespace lifeboat::agent {

struct Agent::Impl {
    AgentOptions options;
    AgentState state;
    std::shared_ptr<CancellationToken> stop_token = std::make_shared<CancellationToken>();

    mutable std::mutex config_mutex;
    AgentConfig config;                                         // the running configuration
    std::optional<AgentConfig> pending;                         // a reload, applied between jobs
    std::map<std::string, SourceScheduler> schedulers;          // scheduler thread only
    std::map<std::string, Timestamp> catalog_read;              // monitor thread only
    std::map<std::string, std::string> catalog_archived;        // monitor thread only
    std::map<std::string, std::string> budget_requested_after;  // scheduler thread only

    // The capture of each source whose kind has a log stream: its own thread, cancelled through
    // its own token (a backup of the source stops it; the agent's stop stops them all).
    struct CaptureWorker {
        SourceSpec spec;
        std::shared_ptr<CancellationToken> token = std::make_shared<CancellationToken>();
        std::thread thread;
    };
    std::map<std::string, std::unique_ptr<CaptureWorker>> captures;  // scheduler thread only
    std::mutex history_mutex;  // history.jsonl is appended by the scheduler and the captures

    AlertTracker tracker;
    std::unique_ptr<Notifier> notifier;
    std::unique_ptr<HttpServer> server;
    std::thread scheduler_thread;
    std::thread monitor_thread;
    std::atomic<bool> stopped{false};

    explicit Impl(AgentOptions o) : options(std::move(o)), state(options.clock->now()) {}

    Timestamp now() const { return options.clock->now(); }
    void log(std::string_view line) const {
        if (options.log) options.log(LogLevel::info, line);
    }
    AgentConfig current() const {
        std::lock_guard lock(config_mutex);
        return config;
    }

    void refresh_catalog(const SourceSpec& s) {
        const auto began = std::chrono::steady_clock::now();
        auto catalog = options.runner->load_catalog(s, s.repository);
        if (catalog) {
            catalog->load_seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        }
        state.catalog_loaded(s.name, std::move(catalog), now());
    }
    // Returns the last archived log object the server names (nullopt when it cannot tell).
    std::optional<std::string> probe(const SourceSpec& s) {
        auto probed = options.runner->probe(s);
        if (!probed) {
            state.probed(s.name, std::unexpected(probed.error()), now());
            return std::nullopt;
        }
        if (!*probed) return std::nullopt;  // no archive queue: no figures, and no error
        std::string archived = (*probed)->last_archived_wal;
        state.probed(s.name, std::move(**probed), now());
        return archived;
    }

    void evaluate_alerts() {
        const AgentConfig c = current();
        auto snap = state.snapshot(now());
        auto alerts = agent::evaluate_alerts(snap, c.agent.alerts);
        auto transitions = tracker.update(alerts, snap.now);
        state.set_alerts(std::move(alerts));
        if (!transitions.empty()) {
            if (auto saved = save_firing(c.agent.state_dir, tracker.firing()); !saved)
                log("alert state not saved: " + saved.error().message);
        }
        for (const auto& n : transitions)
            log(fmt::format("alert {} {} on {}: {}", n.alert, n.state, n.source, n.message));
        notifier->send(std::move(transitions));
    }

    // When each kind last ran, for the missed-window rule: the job history, and the repository
    // itself for backups and drills (which may have run without the agent).
    std::map<JobKind, Timestamp> last_runs(const SourceState& s) const {
        std::map<JobKind, Timestamp> out;
        for (const auto& [kind, record] : s.last_job)
            out[kind] = record.started;
        if (s.catalog && !s.catalog->backups.empty()) {
            const Timestamp t = s.catalog->backups.back().start;
            if (!out.contains(JobKind::backup) || out[JobKind::backup] < t)
                out[JobKind::backup] = t;
        }
        if (s.catalog && s.catalog->last_drill) {
            const Timestamp t = s.catalog->last_drill->started;
            if (!out.contains(JobKind::drill) || out[JobKind::drill] < t) out[JobKind::drill] = t;
        }
        return out;
    }

    void build_schedulers(const AgentConfig& c) {
        schedulers.clear();
        for (const auto& s : c.sources)
            state.set_stream(s.name, options.runner->has_log_stream(s));
        const auto snap = state.snapshot(now());
        for (const auto& s : snap.sources) {
            SourcePolicy policy = policy_of(s.spec, c.agent);
            schedulers.emplace(s.spec.name,
                               SourceScheduler(std::move(policy.schedules), last_runs(s), snap.now,
                                               std::move(policy.backup_window)));
        }
        publish_next_backup();
    }

    void publish_next_backup() {
        for (const auto& [name, scheduler] : schedulers)
            state.set_next_backup(name, scheduler.due_at(JobKind::backup));
    }

    void run_job(const SourceSpec& source, const DueJob& job, const AgentConfig& c) {
        OperationContext ctx;
        ctx.clock = options.clock;
        ctx.cancellation = stop_token;
        ctx.log = options.log;
        const Timestamp started = now();
        // The backup needs the slot the capture holds: the capture stores what it holds and
        // stops, and starts again after the backup, from the new backup (ensure_captures).
        // (wal-stream's physical slot is not the backup's: it goes on streaming meanwhile.)
        if (job.kind == JobKind::backup && !source.wal_stream)
            stop_capture(source.name, "for the backup");
        state.job_started(source.name, job.kind, started);
        log(fmt::format("{} {} started ({})", source.name, job_kind_name(job.kind),
                        trigger_name(job.trigger)));
        Result<JobOutcome> outcome = fail(ErrorCode::internal, "no such job");
        switch (job.kind) {
            case JobKind::backup:
                outcome = options.runner->backup(source, ctx);
                break;
            case JobKind::expire:
                outcome = options.runner->expire(source, ctx);
                break;
            case JobKind::copy:
                outcome = options.runner->copy(source, ctx);
                break;
            case JobKind::verify:
                outcome = options.runner->verify(source, ctx);
                break;
            case JobKind::drill:
                outcome =
                    options.runner->drill(source, c.agent.drill_target, c.agent.drill_checks, ctx);
                break;
            case JobKind::capture:
                break;  // never scheduled
        }
        JobRecord record{source.name,
                         job.kind,
                         std::string(trigger_name(job.trigger)),
                         started,
                         now(),
                         outcome.has_value(),
                         outcome ? outcome->bytes : 0,
                         outcome ? outcome->summary : outcome.error().message};
        log(fmt::format("{} {} {} in {:.1f} s: {}", source.name, job_kind_name(job.kind),
                        record.ok ? "succeeded" : "FAILED", record.duration_seconds(),
                        record.message));
        record_history(c.agent.state_dir, record);
        if (outcome && job.kind == JobKind::drill) state.drill_measured(source.name, *outcome);
        state.job_finished(record);
        schedulers.at(source.name).finished(job.kind, started, record.finished);
        if (record.ok && job.kind == JobKind::backup &&
            policy_of(source, c.agent).expire_after_backup)
            schedulers.at(source.name).request(JobKind::expire, Trigger::after_backup);
        publish_next_backup();
        refresh_catalog(source);
        evaluate_alerts();
    }

    void record_history(const fs::path& dir, const JobRecord& record) {
        std::lock_guard lock(history_mutex);
        if (auto saved = append_history(dir, record); !saved)
            log("job history not saved: " + saved.error().message);
    }

    // Captures continuously until its token is cancelled. A run that fails is recorded (history,
    // lifeboat_job_failures_total{kind="capture"}) and started again after a backoff doubling
    // from 1 s to 60 s (back to 1 s after a run that lasted a minute): the capture continues
    // after the last object it stored, so a restart loses nothing the slot still holds.
    void capture_loop(const SourceSpec& source, const std::shared_ptr<CancellationToken>& token) {
        constexpr auto k_max_backoff = std::chrono::seconds(60);
        std::chrono::seconds backoff{1};
        while (!token->cancelled()) {
            OperationContext ctx;
            ctx.clock = options.clock;
            ctx.cancellation = token;
            ctx.log = options.log;
            const std::string name = source.name;
            ctx.progress = [this, name](const Progress&) { state.capture_stored(name, now()); };
            const Timestamp started = now();
            state.capture_running(source.name, true);
            log(fmt::format("{} capture started", source.name));
            auto outcome = options.runner->capture(source, ctx);
            state.capture_running(source.name, false);
            if (outcome) {
                if (outcome->lag_seconds) state.capture_lag(source.name, *outcome->lag_seconds);
                log(fmt::format("{} capture stopped: {}", source.name, outcome->summary));
                // Cancelled: the loop ends. (A run that returned by itself starts again, not
                // in a busy loop.)
                if (!token->cancelled()) (void)token->sleep_for(std::chrono::seconds(1));
                continue;
            }
            if (token->cancelled() && outcome.error().code == ErrorCode::interrupted) break;
            JobRecord record{
                source.name, JobKind::capture,       "continuous", started, now(), false,
                0,           outcome.error().message};
            if (record.duration_seconds() >= 60) backoff = std::chrono::seconds(1);
            log(fmt::format("{} capture FAILED after {:.1f} s: {} (restarting in {} s)",
                            source.name, record.duration_seconds(), record.message,
                            backoff.count()));
            record_history(current().agent.state_dir, record);
            state.job_finished(std::move(record));
            (void)token->sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::seconds(k_max_backoff));
        }
    }

    void stop_capture(const std::string& name, std::string_view why) {
        const auto it = captures.find(name);
        if (it == captures.end()) return;
        it->second->token->cancel(fmt::format("the agent stops the capture {}", why));
        if (it->second->thread.joinable()) it->second->thread.join();
        captures.erase(it);
        log(fmt::format("{} capture stopped {}", name, why));
    }

    // Starts the capture of every source whose kind has a log stream once its repository holds
    // a backup (until then the schedule's first backup comes first), restarts it when its
    // configuration changed, and stops those no longer configured.
    void ensure_captures(const AgentConfig& c) {
        const auto snap = state.snapshot(now());
        std::vector<std::string> unwanted;
        for (const auto& [name, worker] : captures) {
            bool wanted = false;
            for (const auto& s : c.sources) {
                if (s.name == name && s.conninfo == worker->spec.conninfo &&
                    s.repository == worker->spec.repository && s.kind == worker->spec.kind &&
                    s.wal_stream == worker->spec.wal_stream &&
                    s.wal_stream_slot == worker->spec.wal_stream_slot)
                    wanted = true;
            }
            if (!wanted) unwanted.push_back(name);
        }
        for (const auto& name : unwanted)
            stop_capture(name, "after a reload");
        for (const auto& s : snap.sources) {
            if (!s.stream || captures.contains(s.spec.name)) continue;
            if (!s.catalog || s.catalog->backups.empty()) continue;
            auto worker = std::make_unique<CaptureWorker>();
            worker->spec = s.spec;
            worker->thread = std::thread(
                [this, spec = s.spec, token = worker->token] { capture_loop(spec, token); });
            captures.emplace(s.spec.name, std::move(worker));
        }
    }

    void stop_captures() {
        std::vector<std::string> names;
        for (const auto& [name, worker] : captures) {
            worker->token->cancel("the agent is stopping");
            names.push_back(name);
        }
        for (const auto& name : names)
            stop_capture(name, "as the agent stops");
    }

    // A scheduled backup that cannot start inside its backup window is not run late (the
    // window exists to keep backups out of other hours): the skip is recorded, and the next
    // one is the schedule's next firing.
    void skip_job(const SourceSpec& source, const DueJob& job, const AgentConfig& c) {
        const Timestamp at = now();
        const auto window = policy_of(source, c.agent).backup_window;
        JobRecord record{
            source.name,
            job.kind,
            std::string(trigger_name(job.trigger)),
            at,
            at,
            false,
            0,
            fmt::format("skipped: due at {} but the backup window {} UTC is closed "
                        "(the agent was down, or another job ran until {})",
                        format_iso8601(job.due), window ? window->text() : std::string("?"),
                        format_iso8601(at)),
            true};
        log(fmt::format("{} {} {}", source.name, job_kind_name(job.kind), record.message));
        record_history(c.agent.state_dir, record);
        state.job_finished(record);
        schedulers.at(source.name).finished(job.kind, at, at);
        publish_next_backup();
    }

    // The RTO budget: when replaying the WAL since the newest backup would take longer than
    // rto_target, one extra backup (an incremental: only changed files are read) shortens it.
    // Asked once per newest backup, so a backup that does not help is not repeated in a loop.
    void request_backup_over_budget(const SourceSpec& source, const AgentConfig& c,
                                    SourceScheduler& scheduler) {
        if (!c.agent.rto_target) return;
        const auto snap = state.snapshot(now());
        for (const auto& s : snap.sources) {
            if (s.spec.name != source.name || !s.catalog || s.catalog->backups.empty()) continue;
            const auto estimate = estimated_rto_seconds(s);
            const std::string& newest = s.catalog->backups.back().id;
            if (!estimate || *estimate <= static_cast<double>(c.agent.rto_target->count()) ||
                budget_requested_after[source.name] == newest) {
                continue;
            }
            budget_requested_after[source.name] = newest;
            log(fmt::format("{}: estimated RTO {:.0f} s is above rto_target {} s: an extra backup",
                            source.name, *estimate, c.agent.rto_target->count()));
            scheduler.request(JobKind::backup, Trigger::rto_budget);
        }
    }

    void scheduler_loop() {
        while (!stop_token->cancelled()) {
            AgentConfig c;
            {
                std::lock_guard lock(config_mutex);
                if (pending) {
                    config = std::move(*pending);
                    pending.reset();
                    state.set_sources(config.sources, config.agent.rto_target);
                    notifier->set_settings(config.agent.alerts);
                    c = config;
                    build_schedulers(c);
                } else {
                    c = config;
                }
            }
            // One job at a time across all sources (docs/operations.md, "Several sources"):
            // the earliest due goes first, so no source waits behind another's cadence.
            const SourceSpec* chosen = nullptr;
            std::optional<DueJob> job;
            for (const auto& source : c.sources) {
                auto it = schedulers.find(source.name);
                if (it == schedulers.end()) continue;
                request_backup_over_budget(source, c, it->second);
                const auto due = it->second.next_due(now());
                if (due && (!job || due->due < job->due)) {
                    job = due;
                    chosen = &source;
                }
            }
            bool ran = false;
            if (job && job->outside_window) {
                skip_job(*chosen, *job, c);
                ran = true;
            } else if (job) {
                run_job(*chosen, *job, c);
                ran = true;  // re-read the configuration between jobs
            }
            if (ran) continue;
            ensure_captures(c);
            // Sleep until the next job, but wake at least every second for reloads.
            std::int64_t wait = 1000000;
            for (const auto& [name, scheduler] : schedulers) {
                if (const auto wake = scheduler.next_wake())
                    wait = std::min(wait, std::max<std::int64_t>(wake->micros - now().micros, 0));
            }
            (void)stop_token->sleep_for(
                std::chrono::microseconds(std::max<std::int64_t>(wait, 10000)));
        }
        stop_captures();
    }

    // Whether the source's capture stored an object after `at` (its window end moved on).
    bool stored_since(const std::string& name, Timestamp at) const {
        for (const auto& s : state.snapshot(now()).sources)
            if (s.spec.name == name) return s.capture_stored_at && *s.capture_stored_at > at;
        return false;
    }

    void monitor_loop() {
        while (!stop_token->cancelled()) {
            const AgentConfig c = current();
            for (const auto& s : c.sources) {
                const auto archived = probe(s);
                const auto last = catalog_read.find(s.name);
                const Timestamp t = now();
                const std::int64_t age =
                    last == catalog_read.end() ? -1 : t.micros - last->second.micros;
                // Reading a catalog lists the repository (200,000 WAL files take a while):
                // it is read again when something changed (the archive moved on, as the
                // server says; jobs re-read it when they finish), at most every
                // catalog_refresh, and otherwise every catalog_refresh_idle, for changes the
                // agent cannot see (a backup or expire run by hand).
                const bool moved =
                    !archived || archived != catalog_archived[s.name] ||
                    stored_since(s.name, last == catalog_read.end() ? Timestamp{} : last->second);
                if (age < 0 || (moved && age >= c.agent.catalog_refresh.count() * 1000000) ||
                    age >= c.agent.catalog_refresh_idle.count() * 1000000) {
                    refresh_catalog(s);
                    catalog_read[s.name] = t;
                    if (archived) catalog_archived[s.name] = *archived;
                }
            }
            evaluate_alerts();
            (void)stop_token->sleep_for(c.agent.probe_interval);
        }
    }

    void serve_http(const AgentSettings& a) {
        const std::string token = a.token;
        HttpGuard guard =
            [token](const HttpServerRequest& request) -> std::optional<HttpServerResponse> {
            if (token.empty() || request.authorization == "Bearer " + token) return std::nullopt;
            return HttpServerResponse{401,
                                      "text/plain; charset=utf-8",
                                      "unauthorized: send 'Authorization: Bearer TOKEN'\n",
                                      {{"WWW-Authenticate", "Bearer"}}};
        };
        std::map<std::string, HttpHandler> routes;
        routes["/metrics"] = [this](const HttpServerRequest&) {
            const auto snap = state.snapshot(now());
            return HttpServerResponse{200,
                                      "text/plain; version=0.0.4; charset=utf-8",
                                      render_metrics(snap, current().agent.alerts),
                                      {}};
        };
        routes["/api/status"] = [this](const HttpServerRequest&) {
            const auto snap = state.snapshot(now());
            return HttpServerResponse{
                200, "application/json", status_json(snap, current().agent.alerts), {}};
        };
        routes["/"] = [this](const HttpServerRequest&) {
            const auto snap = state.snapshot(now());
            return HttpServerResponse{200,
                                      "text/html; charset=utf-8",
                                      status_page_html(snap, current().agent.alerts),
                                      {}};
        };
        server = std::make_unique<HttpServer>(std::move(routes), std::move(guard));
    }
};

Agent::Agent(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Agent::~Agent() {
    stop();
}

Result<std::unique_ptr<Agent>> Agent::start(AgentOptions options) {
    auto impl = std::make_unique<Impl>(std::move(options));
    Impl& i = *impl;
    i.config = LB_TRY(i.options.load());
    const AgentSettings& a = i.config.agent;
    i.state.set_sources(i.config.sources, a.rto_target);
    i.state.set_reload(i.options.config_file, std::nullopt, "");
    i.state.restore_history(read_history(a.state_dir));
    i.tracker.restore(read_firing(a.state_dir));
    i.notifier = std::make_unique<Notifier>(a.alerts);
    i.serve_http(a);
    auto listening = i.server->start(a.listen_host, a.listen_port);
    if (!listening) {
        if (listening.error().code != ErrorCode::unavailable)
            return std::unexpected(listening.error());
        return fail(ErrorCode::unavailable, "{}: set [agent] listen", listening.error().message);
    }
    const int port = *listening;
    // The catalog and a probe before scheduling: the missed-window rule needs the newest
    // backup, and the first scrape should already have figures.
    for (const auto& s : i.config.sources) {
        i.refresh_catalog(s);
        i.catalog_read[s.name] = i.now();
        if (const auto archived = i.probe(s)) i.catalog_archived[s.name] = *archived;
    }
    i.build_schedulers(i.config);
    i.evaluate_alerts();
    i.scheduler_thread = std::thread([&i] { i.scheduler_loop(); });
    i.monitor_thread = std::thread([&i] { i.monitor_loop(); });
    i.log(fmt::format("listening on {}:{}", a.listen_host, port));
    auto agent = std::unique_ptr<Agent>(new Agent(std::move(impl)));
    agent->m_port = port;
    return agent;
}

Status Agent::reload() {
    Impl& i = *m_impl;
    auto next = i.options.load();
    if (!next) {
        i.state.set_reload(i.options.config_file, std::nullopt, next.error().message);
        i.log("configuration reload refused, the running one is kept: " + next.error().message);
        return std::unexpected(next.error());
    }
    {
        std::lock_guard lock(i.config_mutex);
        i.pending = std::move(*next);
    }
    i.state.set_reload(i.options.config_file, i.now(), "");
    i.log("configuration reloaded");
    return {};
}

void Agent::stop() {
    Impl& i = *m_impl;
    if (i.stopped.exchange(true)) return;
    i.stop_token->cancel("the agent is stopping");
    if (i.scheduler_thread.joinable()) i.scheduler_thread.join();
    if (i.monitor_thread.joinable()) i.monitor_thread.join();
    i.server->stop();
    i.notifier->stop();
    i.log("stopped");
}

StateSnapshot Agent::snapshot() const {
    return m_impl->state.snapshot(m_impl->now());
}

}  // namespace lifeboat::agent
