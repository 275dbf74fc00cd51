// What the agent knows, kept up to date as things happen: per source its catalog summary (after
// each job and every catalog_refresh), its archiving probe (every probe_interval), the job
// history and counters. Scrapes, the JSON API and the page read a snapshot of it; nothing here
// lists a repository, so a scrape costs the same with 200,000 WAL files as with none.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.hpp"
#include "agent/jobs.hpp"
#include "agent/scheduler.hpp"
#include "util/time.hpp"

namespace lifeboat::agent {

struct JobRecord {
    std::string source;
    JobKind kind = JobKind::backup;
    std::string trigger;
    Timestamp started;
    Timestamp finished;
    bool ok = false;
    std::uint64_t bytes = 0;
    std::string message;  // the summary, or the error (for a skip: why)
    // Not run: a scheduled backup that could not start inside its backup window. Not a
    // failure (backup_failed stays as it was); counted in lifeboat_job_skipped_total.
    bool skipped = false;
    double duration_seconds() const { return (finished.micros - started.micros) / 1e6; }
};

struct SourceState {
    SourceSpec spec;
    std::optional<CatalogSummary> catalog;
    std::string catalog_error;  // the last refresh's failure ("" when it worked)
    std::optional<Timestamp> catalog_error_since;
    std::optional<SourceProbe> probe;
    std::string probe_error;
    std::optional<Timestamp> probed_at;
    // Since when the server has had WAL beyond the archived segments at the same archived
    // position: the age of the oldest unarchived change, to within one probe interval.
    std::optional<Timestamp> behind_since;
    // The server's next transaction id when the archive was last fully caught up: while only
    // the current segment is unarchived and no transaction has taken an id since, nothing that
    // holds data is at risk.
    std::optional<std::uint64_t> caught_up_xid;
    std::optional<JobKind> running;
    std::optional<Timestamp> running_since;
    std::map<JobKind, JobRecord> last_job;      // the last of each kind
    std::map<JobKind, Timestamp> last_success;  // the last successful start of each kind
    std::map<JobKind, std::uint64_t> failures;  // since start-up
    std::map<JobKind, std::uint64_t> skipped;   // since start-up
    std::optional<Timestamp> next_backup;
    // Replay speed measured by the last passing drill of this agent (bytes per second), and
    // the part of that drill's RTO that does not depend on the WAL (files, start, checks).
    std::optional<double> replay_bytes_per_second;
    double rto_fixed_seconds = 0;
    // The log stream (capture) of a source whose kind has one: whether the agent runs it, whether
    // it runs now, when it last stored an object, and the commit-to-stored lag (the last run's
    // p50, else the newest stored commit against the time its object was stored).
    bool stream = false;
    bool capture_up = false;
    std::optional<Timestamp> capture_stored_at;
    std::optional<double> capture_lag_seconds;
    std::optional<Timestamp> lag_from;  // the stored_at the lag was last computed for
    // Stored bytes over time (one sample per catalog refresh, 25 h kept) for the growth rate.
    std::deque<std::pair<Timestamp, std::uint64_t>> size_samples;
};

struct AlertStatus {
    std::string name;
    std::string source;
    bool firing = false;
    std::string value;
    std::string threshold;
    std::string message;
    std::optional<Timestamp> since;
};

struct StateSnapshot {
    Timestamp started;
    Timestamp now;
    std::vector<SourceState> sources;
    std::vector<JobRecord> history;  // newest last
    std::vector<AlertStatus> alerts;
    std::optional<std::chrono::seconds> rto_target;
    std::string config_file;
    std::optional<Timestamp> reloaded_at;
    std::string reload_error;  // the last refused reload ("" when none)
};

class AgentState {
  public:
    explicit AgentState(Timestamp started) : m_started(started) {}
    void set_sources(const std::vector<SourceSpec>& sources,
                     std::optional<std::chrono::seconds> rto);
    void job_started(const std::string& source, JobKind kind, Timestamp at);
    void job_finished(JobRecord record);
    void drill_measured(const std::string& source, const JobOutcome& outcome);
    void catalog_loaded(const std::string& source, Result<CatalogSummary> catalog, Timestamp at);
    void probed(const std::string& source, Result<SourceProbe> probe, Timestamp at);
    void set_next_backup(const std::string& source, std::optional<Timestamp> at);
    void set_stream(const std::string& source, bool stream);
    void capture_running(const std::string& source, bool up);
    void capture_stored(const std::string& source, Timestamp at);
    void capture_lag(const std::string& source, double seconds);
    void set_alerts(std::vector<AlertStatus> alerts);
    void set_reload(std::string config_file, std::optional<Timestamp> at, std::string error);
    // History restored from the state directory at start-up (oldest first).
    void restore_history(std::vector<JobRecord> records);
    StateSnapshot snapshot(Timestamp now) const;

  private:
    SourceState* find(const std::string& source);
    mutable std::mutex m_mutex;
    Timestamp m_started;
    std::vector<SourceState> m_sources;
    std::deque<JobRecord> m_history;
    std::vector<AlertStatus> m_alerts;
    std::optional<std::chrono::seconds> m_rto_target;
    std::string m_config_file;
    std::optional<Timestamp> m_reloaded_at;
    std::string m_reload_error;
};

inline constexpr std::size_t k_history_kept = 200;

// Job history lines (JSON, one per job) in `dir`/history.jsonl: appended after each job, read
// back at start-up (a damaged line is skipped). `dir` "" keeps nothing.
Status append_history(const fs::path& dir, const JobRecord& record);
std::vector<JobRecord> read_history(const fs::path& dir);

}  // namespace lifeboat::agent
