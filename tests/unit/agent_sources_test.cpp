// Several sources in one agent ([[sources]]) and the backup window: the configuration form and
// its refusals, per-source schedules and thresholds, one job at a time across sources, and a
// backup that cannot start inside its window skipped and recorded (simulated clock).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/agent.hpp"
#include "agent/config.hpp"
#include "agent/figures.hpp"
#include "agent/page.hpp"
#include "agent/scheduler.hpp"
#include "drivers/postgres_logical/driver.hpp"
#include "drivers/postgres_physical/driver.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

Timestamp at(const char* iso) {
    return parse_iso8601(iso).value();
}

constexpr std::int64_t k_minute = 60LL * 1000000;

std::string write(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
}

const char* k_two_sources = R"(
[repositories.a]
path = "/srv/a"
[repositories.b]
path = "/srv/b"
[agent]
listen = "127.0.0.1:0"
[schedule]
backup = "0 4 * * *"
backup_window = "04:00-05:00"
verify = "every 1d"
[alerts]
webhook = "http://127.0.0.1:1/hook"
rpo_above = "5m"
[[sources]]
name = "orders"
pg = "host=/tmp port=5432"
repository = "a"
[[sources]]
name = "billing"
kind = "postgres-physical"
pg = "host=/tmp port=5433"
pgdata = "/var/lib/b"
repository = "b"
copy_to = ["/srv/b-west"]
[sources.schedule]
backup = "30 1 * * *"
backup_window = "01:30-02:00"
expire = "after backup"
[sources.alerts]
rpo_above = "1m"
)";

}  // namespace

TEST(AgentSources, DailyWindowParsesAndContains) {
    const auto w = DailyWindow::parse("04:00-05:00");
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_TRUE(w->contains(at("2026-11-23T04:00:00Z")));
    EXPECT_TRUE(w->contains(at("2026-11-23T04:59:59Z")));
    EXPECT_FALSE(w->contains(at("2026-11-23T05:00:00Z")));
    EXPECT_FALSE(w->contains(at("2026-11-23T03:59:59Z")));
    const auto wrap = DailyWindow::parse("23:30-01:00");
    ASSERT_TRUE(wrap);
    EXPECT_TRUE(wrap->contains(at("2026-11-23T23:45:00Z")));
    EXPECT_TRUE(wrap->contains(at("2026-11-24T00:30:00Z")));
    EXPECT_FALSE(wrap->contains(at("2026-11-24T01:00:00Z")));
    EXPECT_FALSE(wrap->contains(at("2026-11-23T12:00:00Z")));
    for (const char* bad : {"", "04:00", "4:00-5:00", "04:00-04:00", "24:00-01:00", "04:60-05:00",
                            "04:00-05:00-06:00", "ab:cd-05:00"}) {
        const auto r = DailyWindow::parse(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code, ErrorCode::config);
        }
    }
}

// A week with the backup window 04:00-05:00: the agent is down over Tuesday's window and comes
// back at 04:20 (inside it: the missed backup runs at once), down again over Thursday's and back
// at 09:00 (outside: skipped, not run late), and a Saturday backup delayed past 05:00 by another
// job is skipped too. Every backup that runs starts inside the window.
TEST(AgentSources, BackupWindowSkipsWhatCannotStartInsideIt) {
    const std::map<JobKind, Schedule> schedules = {
        {JobKind::backup, Schedule::parse("0 4 * * *").value()}};
    const auto window = DailyWindow::parse("04:00-05:00").value();
    struct Event {
        Timestamp at;
        bool skipped;
        Trigger trigger;
    };
    std::vector<Event> events;
    // Drives one agent life from `from` to `to`, returns the last backup start.
    auto live = [&](Timestamp from, Timestamp to, std::optional<Timestamp> last_backup,
                    std::optional<Timestamp> busy_until) {
        std::map<JobKind, Timestamp> last;
        if (last_backup) last[JobKind::backup] = *last_backup;
        SourceScheduler scheduler(schedules, last, from, window);
        Timestamp now = from;
        while (now < to) {
            if (busy_until && now < *busy_until &&
                now >= Timestamp{busy_until->micros - 120 * k_minute}) {
                now = *busy_until;  // another source's job holds the agent
                continue;
            }
            if (const auto job = scheduler.next_due(now)) {
                events.push_back({now, job->outside_window, job->trigger});
                if (!job->outside_window) last_backup = now;
                scheduler.finished(job->kind, now, Timestamp{now.micros + 10 * k_minute});
                now = Timestamp{now.micros + 10 * k_minute};
                continue;
            }
            now = Timestamp{now.micros + k_minute};
        }
        return last_backup;
    };
    auto last = live(at("2026-11-23T00:00:00Z"), at("2026-11-24T00:00:00Z"),
                     at("2026-11-22T04:00:00Z"), std::nullopt);
    last = live(at("2026-11-25T04:20:00Z"), at("2026-11-26T00:00:00Z"), last, std::nullopt);
    last = live(at("2026-11-26T09:00:00Z"), at("2026-11-28T00:00:00Z"), last, std::nullopt);
    last = live(at("2026-11-28T00:00:00Z"), at("2026-11-30T00:00:00Z"), last,
                at("2026-11-28T05:10:00Z"));
    std::vector<std::pair<std::string, bool>> seen;
    for (const auto& e : events) {
        seen.emplace_back(format_iso8601(e.at), e.skipped);
        if (!e.skipped) {
            EXPECT_TRUE(window.contains(e.at)) << format_iso8601(e.at);
        }
    }
    const std::vector<std::pair<std::string, bool>> expected = {
        {"2026-11-23T04:00:00Z", false},  // Monday
        {"2026-11-25T04:20:00Z", false},  // Tuesday's missed, made up inside Wednesday's window
        {"2026-11-26T09:00:00Z", true},   // Thursday's missed, outside the window: skipped
        {"2026-11-27T04:00:00Z", false},  // Friday
        {"2026-11-28T05:10:00Z", true},   // Saturday, held up past the window: skipped
        {"2026-11-29T04:00:00Z", false},  // Sunday
    };
    EXPECT_EQ(seen, expected);
    // An extra backup (the RTO budget) is not held to the window.
    SourceScheduler scheduler(schedules, {{JobKind::backup, at("2026-11-29T04:00:00Z")}},
                              at("2026-11-29T12:00:00Z"), window);
    scheduler.request(JobKind::backup, Trigger::rto_budget);
    const auto extra = scheduler.next_due(at("2026-11-29T12:00:00Z"));
    ASSERT_TRUE(extra);
    EXPECT_FALSE(extra->outside_window);
}

TEST(AgentSources, ReadsSeveralSourcesWithTheirOverrides) {
    const auto s = read_agent_settings(write("agent_sources.toml", k_two_sources));
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(s->source_entries.size(), 2u);
    const auto& orders = s->source_entries[0];
    const auto& billing = s->source_entries[1];
    EXPECT_EQ(orders.name, "orders");
    EXPECT_EQ(orders.repository, "a");
    EXPECT_EQ(orders.policy.schedules.at(JobKind::backup).text(), "0 4 * * *");
    EXPECT_EQ(orders.policy.backup_window->text(), "04:00-05:00");
    EXPECT_TRUE(orders.policy.schedules.contains(JobKind::verify));
    EXPECT_EQ(orders.policy.alerts.rpo_above, std::chrono::seconds(300));
    EXPECT_EQ(billing.name, "billing");
    EXPECT_EQ(billing.pgdata, "/var/lib/b");
    EXPECT_EQ(billing.copy_to, std::vector<std::string>{"/srv/b-west"});
    EXPECT_EQ(billing.policy.schedules.at(JobKind::backup).text(), "30 1 * * *");
    EXPECT_EQ(billing.policy.backup_window->text(), "01:30-02:00");
    EXPECT_TRUE(billing.policy.expire_after_backup);
    EXPECT_TRUE(billing.policy.schedules.contains(JobKind::verify)) << "inherited key by key";
    EXPECT_EQ(billing.policy.alerts.rpo_above, std::chrono::seconds(60));
    EXPECT_EQ(billing.policy.alerts.webhooks.size(), 1u);

    // The thresholds each source's alerts use are its own.
    SourceSpec a;
    a.name = "orders";
    a.policy = orders.policy;
    SourceSpec b;
    b.name = "billing";
    b.policy = billing.policy;
    EXPECT_EQ(thresholds_of(a, s->alerts).rpo_above, std::chrono::seconds(300));
    EXPECT_EQ(thresholds_of(b, s->alerts).rpo_above, std::chrono::seconds(60));
    EXPECT_EQ(policy_of(SourceSpec{}, *s).backup_window->text(), "04:00-05:00");
}

TEST(AgentSources, RefusesMalformedSources) {
    const std::string base = "[schedule]\nbackup = \"0 4 * * *\"\n";
    for (const std::string& bad : {
             base + "[[sources]]\npg = \"x\"\nrepository = \"/r\"\n",    // no name
             base + "[[sources]]\nname = \"a\"\nrepository = \"/r\"\n",  // no pg
             base + "[[sources]]\nname = \"a\"\npg = \"x\"\n",           // no repository
             base + "[[sources]]\nname = \"a\"\npg = \"x\"\nrepository = \"/r\"\n"
                    "[[sources]]\nname = \"a\"\npg = \"y\"\nrepository = \"/s\"\n",  // twice
             base + "[[sources]]\nname = \"a\"\npg = \"x\"\nrepository = \"/r\"\nport = 1\n",
             base + "[[sources]]\nname = \"a\"\npg = \"x\"\nrepository = \"/r\"\n"
                    "[sources.alerts]\nwebhook = \"http://x\"\n",  // targets are agent-wide
             base + "[[sources]]\nname = \"a\"\npg = \"x\"\nrepository = \"/r\"\n"
                    "[sources.schedule]\nbackups = \"every 1h\"\n",
             base + "[agent]\nsource = \"main\"\n[[sources]]\nname = \"a\"\npg = \"x\"\n"
                    "repository = \"/r\"\n",
             base + "[sources]\nname = \"a\"\n",  // not an array
             base + "backup_window = \"4-5\"\n",  // not HH:MM-HH:MM
             std::string("[schedule]\nbackup = \"every 1d\"\nbackup_window = \"04:00-05:00\"\n"),
             std::string("[schedule]\nbackup_window = \"04:00-05:00\"\n"),  // nothing to hold
         }) {
        const auto r = read_agent_settings(write("agent_sources_bad.toml", bad));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::config) << bad;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
}

namespace {

struct Calls {
    std::mutex mutex;
    std::vector<std::string> jobs;  // "source kind"
    std::atomic<int> running{0};
    std::atomic<bool> overlapped{false};
};

class TwoSourceRunner final : public JobRunner {
  public:
    explicit TwoSourceRunner(Calls& calls) : m_calls(calls) {}
    Result<JobOutcome> backup(const SourceSpec& s, const OperationContext&) override {
        return job(s, "backup");
    }
    Result<JobOutcome> expire(const SourceSpec& s, const OperationContext&) override {
        return job(s, "expire");
    }
    Result<JobOutcome> copy(const SourceSpec& s, const OperationContext&) override {
        return job(s, "copy");
    }
    Result<JobOutcome> verify(const SourceSpec& s, const OperationContext&) override {
        return job(s, "verify");
    }
    Result<JobOutcome> drill(const SourceSpec& s, const std::string&, const fs::path&,
                             const OperationContext&) override {
        return job(s, "drill");
    }
    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repo) override {
        CatalogSummary c;
        c.repository = repo;
        return c;
    }
    Result<std::optional<SourceProbe>> probe(const SourceSpec&) override { return SourceProbe{}; }

  private:
    Result<JobOutcome> job(const SourceSpec& s, const char* kind) {
        if (m_calls.running.fetch_add(1) != 0) m_calls.overlapped = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        {
            std::lock_guard lock(m_calls.mutex);
            m_calls.jobs.push_back(s.name + " " + kind);
        }
        m_calls.running.fetch_sub(1);
        return JobOutcome{.bytes = 1, .summary = kind};
    }
    Calls& m_calls;
};

class FixedClock final : public Clock {
  public:
    explicit FixedClock(Timestamp t) : m_t(t) {}
    Timestamp now() const override { return m_t; }

  private:
    Timestamp m_t;
};

int count(Calls& calls, const std::string& what) {
    std::lock_guard lock(calls.mutex);
    return static_cast<int>(std::count(calls.jobs.begin(), calls.jobs.end(), what));
}

}  // namespace

// Two sources with their own schedules share the agent fairly, one job at a time; the metrics,
// the JSON API and the alerts carry both.
TEST(AgentSources, TwoSourcesEachRunTheirOwnScheduleOneJobAtATime) {
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.probe_interval = std::chrono::seconds(1);
    c.agent.schedules.emplace(JobKind::backup, Schedule::parse("every 1s").value());
    for (const char* name : {"orders", "billing"}) {
        SourceSpec s;
        s.name = name;
        s.repository = std::string("/nowhere/") + name;
        s.repository_name = name;
        SourcePolicy policy = policy_of(s, c.agent);
        if (s.name == "billing") {
            policy.schedules.emplace(JobKind::verify, Schedule::parse("every 1s").value());
            policy.alerts.backup_older_than = std::chrono::seconds(3600);
        }
        s.policy = policy;
        c.sources.push_back(s);
    }
    Calls calls;
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(c); };
    options.runner = std::make_unique<TwoSourceRunner>(calls);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end &&
           (count(calls, "orders backup") < 3 || count(calls, "billing backup") < 3 ||
            count(calls, "billing verify") < 3)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto snap = (*agent)->snapshot();
    (*agent)->stop();
    EXPECT_GE(count(calls, "orders backup"), 3);
    EXPECT_GE(count(calls, "billing backup"), 3);
    EXPECT_GE(count(calls, "billing verify"), 3);
    EXPECT_EQ(count(calls, "orders verify"), 0) << "a source's own schedule is its own";
    EXPECT_FALSE(calls.overlapped) << "the agent runs one job at a time";
    ASSERT_EQ(snap.sources.size(), 2u);
    const std::string metrics = render_metrics(snap, c.agent.alerts);
    for (const char* name : {"orders", "billing"}) {
        EXPECT_NE(metrics.find(fmt::format(
                      "lifeboat_backup_last_success_timestamp_seconds{{source=\"{}\"", name)),
                  std::string::npos)
            << name;
    }
    bool billing_age = false;
    bool orders_age = false;
    for (const auto& a : snap.alerts) {
        billing_age = billing_age || (a.name == "backup_age" && a.source == "billing");
        orders_age = orders_age || (a.name == "backup_age" && a.source == "orders");
    }
    EXPECT_TRUE(billing_age) << "billing's own threshold is evaluated";
    EXPECT_FALSE(orders_age) << "orders has no backup_older_than";
    const std::string json = status_json(snap, c.agent.alerts);
    EXPECT_NE(json.find("\"orders\""), std::string::npos);
    EXPECT_NE(json.find("\"billing\""), std::string::npos);
}

// An agent started at 09:00 with the 04:00-05:00 window missed: the backup is not run, the
// skip is in the history and in lifeboat_job_skipped_total, and backup_failed does not fire.
TEST(AgentSources, AMissedWindowOutsideItIsSkippedAndRecorded) {
    const std::string dir = ::testing::TempDir() + "/agent_sources_skip";
    std::filesystem::remove_all(dir);
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.state_dir = dir;
    c.agent.schedules.emplace(JobKind::backup, Schedule::parse("0 4 * * *").value());
    c.agent.backup_window = DailyWindow::parse("04:00-05:00").value();
    SourceSpec s;
    s.name = "main";
    s.repository = "/nowhere";
    c.sources.push_back(s);
    const FixedClock clock(at("2026-11-26T09:00:00Z"));
    Calls calls;
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(c); };
    options.clock = &clock;
    options.runner = std::make_unique<TwoSourceRunner>(calls);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end && (*agent)->snapshot().history.empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto snap = (*agent)->snapshot();
    (*agent)->stop();
    EXPECT_EQ(count(calls, "main backup"), 0);
    ASSERT_EQ(snap.history.size(), 1u);
    EXPECT_TRUE(snap.history[0].skipped);
    EXPECT_EQ(snap.history[0].trigger, "missed window");
    EXPECT_NE(snap.history[0].message.find("04:00-05:00"), std::string::npos);
    ASSERT_EQ(snap.sources.size(), 1u);
    EXPECT_EQ(snap.sources[0].next_backup, at("2026-11-27T04:00:00Z"));
    EXPECT_NE(
        render_metrics(snap, c.agent.alerts)
            .find("lifeboat_job_skipped_total{source=\"main\",repository=\"\",kind=\"backup\"} 1"),
        std::string::npos);
    for (const auto& a : snap.alerts)
        EXPECT_FALSE(a.name == "backup_failed" && a.firing);
    EXPECT_NE(status_page_html(snap, c.agent.alerts).find("backups skipped"), std::string::npos);
    const auto api = nlohmann::json::parse(status_json(snap, c.agent.alerts));
    EXPECT_EQ(api.at("history").at(0).at("skipped"), true);
    EXPECT_EQ(api.at("sources").at(0).at("job_skipped").at("backup"), 1);
    // Kept in the history file, and read back as a skip (not as the last backup run).
    const auto history = read_history(dir);
    ASSERT_EQ(history.size(), 1u);
    EXPECT_TRUE(history[0].skipped);
}

// The archive probe goes through the source's driver (source/driver.hpp), chosen by its kind:
// the physical driver asks the server (here: none listens, a database error), the logical one
// its slot (through the repository), an unknown kind is a config error.
TEST(AgentSources, TheProbeGoesThroughTheSourcesDriver) {
    postgres_physical::register_driver();
    postgres_logical::register_driver();
    auto runner = make_engine_job_runner([](const std::string&) -> Result<repo::Repository> {
        return fail(ErrorCode::internal, "unused");
    });
    SourceSpec s;
    s.conninfo = "host=/nonexistent-lifeboat-socket-dir port=1 connect_timeout=1";
    s.kind = "postgres-physical";
    const auto physical = runner->probe(s);
    ASSERT_FALSE(physical);
    EXPECT_EQ(physical.error().code, ErrorCode::database) << physical.error().message;
    // The logical kind has no archive queue but a log stream: its slot is probed, which needs
    // the repository's id (here the repository cannot be opened: that error).
    s.kind = "postgres-logical";
    const auto logical = runner->probe(s);
    ASSERT_FALSE(logical);
    EXPECT_EQ(logical.error().message, "unused");
    s.kind = "no-such-kind";
    const auto unknown = runner->probe(s);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::config);
}

namespace {

// Counts catalog reads; its server's archive moves on when told to.
class CatalogCountingRunner final : public JobRunner {
  public:
    Result<JobOutcome> backup(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> expire(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> copy(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> verify(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> drill(const SourceSpec&, const std::string&, const fs::path&,
                             const OperationContext&) override {
        return JobOutcome{};
    }
    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repo) override {
        ++loads;
        CatalogSummary c;
        c.repository = repo;
        return c;
    }
    Result<std::optional<SourceProbe>> probe(const SourceSpec&) override {
        ++probes;
        SourceProbe p;
        p.last_archived_wal = fmt::format("0000000100000000000000{:02X}", archived.load());
        return std::optional<SourceProbe>(p);
    }
    std::atomic<int> loads{0};
    std::atomic<int> probes{0};
    std::atomic<int> archived{1};
};

}  // namespace

// The catalog (which lists the repository) is not re-read on a timer while nothing changes:
// only when the server's archive moves on (or after catalog_refresh_idle, or a job).
TEST(AgentSources, TheCatalogIsReReadWhenTheArchiveMovesNotOnATimer) {
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.probe_interval = std::chrono::seconds(1);
    c.agent.catalog_refresh = std::chrono::seconds(1);
    c.agent.catalog_refresh_idle = std::chrono::seconds(3600);
    SourceSpec s;
    s.name = "main";
    s.repository = "/nowhere";
    c.sources.push_back(s);
    auto runner = std::make_unique<CatalogCountingRunner>();
    CatalogCountingRunner& r = *runner;
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(c); };
    options.runner = std::move(runner);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    const auto wait_probes = [&](int n) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (r.probes.load() < n && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    };
    wait_probes(4);  // over 3 s, the archive still
    const int idle_loads = r.loads.load();
    r.archived = 2;  // the archive moves on
    wait_probes(r.probes.load() + 3);
    const int after = r.loads.load();
    (*agent)->stop();
    EXPECT_EQ(idle_loads, 1) << "read at start-up only";
    EXPECT_GE(after, idle_loads + 1) << "the archive moved: the catalog is read again";
}
