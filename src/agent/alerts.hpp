// Alert delivery: firing and resolved notifications to webhooks (a generic JSON body, or
// Slack's {"text": ...}) and/or a command. AlertTracker turns the rules' current values into
// transitions, so each alert is sent once when it starts firing and once when it resolves
// (de-duplicated); Notifier delivers them on its own thread, retrying each target with doubling
// backoff, so a slow receiver never holds up a job or a scrape.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.hpp"
#include "agent/state.hpp"

namespace lifeboat::agent {

struct Notification {
    std::string alert;  // rule name: rpo, backup_failed, ...; "test" for alert-test
    std::string state;  // firing | resolved
    std::string source;
    std::string value;
    std::string threshold;
    std::string message;  // one sentence for the person on call
    Timestamp at;
};

// Alerts firing: (source, rule) -> since.
using FiringAlerts = std::map<std::pair<std::string, std::string>, Timestamp>;

std::string notification_json(const Notification& n);
// The firing alerts kept in `dir`/alerts.json (written atomically; "" keeps nothing).
Status save_firing(const fs::path& dir, const FiringAlerts& firing);
FiringAlerts read_firing(const fs::path& dir);
std::string slack_json(const Notification& n);

class AlertTracker {
  public:
    // What was firing when the agent last stopped (state_dir/alerts.json): still firing after
    // a restart sends nothing again; resolved meanwhile sends "resolved".
    void restore(FiringAlerts firing);
    FiringAlerts firing() const;
    // Updates `current` in place (its `since`), and returns the transitions to send.
    std::vector<Notification> update(std::vector<AlertStatus>& current, Timestamp now);

  private:
    mutable std::mutex m_mutex;
    FiringAlerts m_firing;  // (source, name) -> since
};

// One delivery to every configured target, each retried `retries` times with backoff doubling
// from `first_retry`; `wait` sleeps between attempts and returns false to give up (stopping).
// Returns the failures ("" when every target took it).
std::string deliver(const AlertSettings& settings, const Notification& n,
                    const std::function<bool(std::chrono::milliseconds)>& wait);

class Notifier {
  public:
    explicit Notifier(AlertSettings settings);
    ~Notifier();
    void set_settings(AlertSettings settings);
    void send(std::vector<Notification> notifications);
    // Stops retrying and joins the thread; what is still queued is dropped.
    void stop();

  private:
    void run();
    std::mutex m_mutex;
    std::condition_variable m_wake;
    AlertSettings m_settings;
    std::deque<Notification> m_queue;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace lifeboat::agent
