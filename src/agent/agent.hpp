// The agent: one long-running process that runs each source's schedule, keeps its state (job
// history, catalog, archiving probe) up to date, raises alerts and serves GET /metrics,
// GET /api/status and GET / over HTTP (agent/http_server.hpp).
//
// Threads: the scheduler (runs jobs one at a time across all sources, the earliest due first:
// jobs of one source never overlap, and a drill's measured RTO is not slowed by another
// source's backup), the
// monitor (probes each source every probe_interval, re-reads each catalog every
// catalog_refresh, evaluates the alert rules), the notifier (alerts.hpp), the HTTP server's, and
// one capture thread per source whose kind has a log stream (postgres-logical): not a scheduled
// job; the scheduler stops it around the source's backups (which need its slot).
// Scrapes only read a snapshot of the state.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/config.hpp"
#include "agent/jobs.hpp"
#include "agent/state.hpp"
#include "util/error.hpp"
#include "util/operation_context.hpp"

namespace lifeboat::agent {

// Reads the whole configuration again (start-up and every reload).
using ConfigLoader = std::function<Result<AgentConfig>()>;

struct AgentOptions {
    ConfigLoader load;
    std::string config_file;  // for the status page
    const Clock* clock = &system_clock();
    std::unique_ptr<JobRunner> runner;
    LogFn log;  // one line per event (jobs, alerts, reloads); may be empty
};

class Agent {
  public:
    // Loads the configuration, binds the listen address (ErrorCode::unavailable when it is
    // taken), reads each catalog once, and starts the threads.
    static Result<std::unique_ptr<Agent>> start(AgentOptions options);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // SIGHUP: reads the configuration again. A bad file is refused (the error is returned,
    // shown on the page and in /api/status) and the running configuration kept. The listen
    // address is read at start-up only.
    Status reload();
    // SIGTERM: cancels the running job (through its context), stops the threads and the HTTP
    // server, and returns when all have finished.
    void stop();
    int port() const { return m_port; }
    StateSnapshot snapshot() const;

  private:
    struct Impl;
    explicit Agent(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
    int m_port = 0;
};

}  // namespace lifeboat::agent
