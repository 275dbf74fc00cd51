// The agent end to end over a fake JobRunner (no PostgreSQL): jobs run on schedule, failures
// reach the alert command once, the history survives a restart and keeps the missed-window rule.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/agent.hpp"
#include "agent/figures.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

struct Calls {
    std::mutex mutex;
    std::vector<std::string> jobs;
    std::atomic<bool> fail_drill{false};
    std::atomic<int> running{0};
    std::atomic<bool> overlapped{false};
};

class FakeRunner final : public JobRunner {
  public:
    explicit FakeRunner(Calls& calls) : m_calls(calls) {}
    Result<JobOutcome> backup(const SourceSpec&, const OperationContext&) override {
        return job("backup", {.bytes = 100, .summary = "backup B"});
    }
    Result<JobOutcome> expire(const SourceSpec&, const OperationContext&) override {
        return job("expire", {.bytes = 0, .summary = "expired 0"});
    }
    Result<JobOutcome> copy(const SourceSpec&, const OperationContext&) override {
        return job("copy", {});
    }
    Result<JobOutcome> verify(const SourceSpec&, const OperationContext&) override {
        return job("verify", {});
    }
    Result<JobOutcome> drill(const SourceSpec&, const std::string&, const fs::path&,
                             const OperationContext&) override {
        auto r = job("drill", {.bytes = 0, .summary = "drill D passed"});
        if (m_calls.fail_drill)
            return fail(ErrorCode::check_failed, "drill D failed: check 'orders' found 3 rows");
        return r;
    }
    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repo) override {
        CatalogSummary c;
        c.repository = repo;
        return c;
    }
    Result<std::optional<SourceProbe>> probe(const SourceSpec&) override { return SourceProbe{}; }

  private:
    Result<JobOutcome> job(const char* name, JobOutcome outcome) {
        if (m_calls.running.fetch_add(1) != 0) m_calls.overlapped = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        {
            std::lock_guard lock(m_calls.mutex);
            m_calls.jobs.push_back(name);
        }
        m_calls.running.fetch_sub(1);
        return outcome;
    }
    Calls& m_calls;
};

template <typename F>
bool eventually(F condition, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

AgentConfig config(const std::string& dir, const std::string& alerts_file) {
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.state_dir = dir;
    c.agent.probe_interval = std::chrono::seconds(1);
    c.agent.schedules.emplace(JobKind::backup, Schedule::parse("every 1s").value());
    c.agent.schedules.emplace(JobKind::drill, Schedule::parse("0 6 * * 0").value());
    c.agent.alerts.command = "echo \"$LIFEBOAT_ALERT $LIFEBOAT_ALERT_STATE\" >> " + alerts_file;
    c.agent.alerts.retries = 0;
    SourceSpec s;
    s.name = "main";
    s.repository = "/nowhere";
    s.repository_name = "primary";
    c.sources.push_back(s);
    return c;
}

}  // namespace

TEST(AgentRunner, RunsJobsOneAtATimeAlertsOnceAndRemembersAcrossARestart) {
    const std::string dir = ::testing::TempDir() + "/agent_runner_test";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string alerts = dir + "/alerts.txt";
    Calls calls;
    calls.fail_drill = true;
    {
        AgentOptions options;
        options.load = [&] { return Result<AgentConfig>(config(dir, alerts)); };
        options.runner = std::make_unique<FakeRunner>(calls);
        auto agent = Agent::start(std::move(options));
        ASSERT_TRUE(agent) << agent.error().message;
        EXPECT_GT((*agent)->port(), 0);
        // The drill never ran: it runs once at start-up (after the backup), and fails.
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(calls.mutex);
            return std::count(calls.jobs.begin(), calls.jobs.end(), "backup") >= 3;
        }));
        ASSERT_TRUE(eventually(
            [&] { return read_file(alerts).find("drill_failed firing") != std::string::npos; }));
        (*agent)->stop();
    }
    EXPECT_FALSE(calls.overlapped) << "two jobs of one source ran at once";
    {
        std::lock_guard lock(calls.mutex);
        EXPECT_EQ(std::count(calls.jobs.begin(), calls.jobs.end(), "drill"), 1);
    }
    EXPECT_EQ(read_file(alerts), "drill_failed firing\n");

    // Restart: the history says the drill ran (after the last Sunday 06:00), so it is not
    // missed again; and the failed drill is still known from the history.
    calls.fail_drill = false;
    {
        std::lock_guard lock(calls.mutex);
        calls.jobs.clear();
    }
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(config(dir, alerts)); };
    options.runner = std::make_unique<FakeRunner>(calls);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(calls.mutex);
        return std::count(calls.jobs.begin(), calls.jobs.end(), "backup") >= 2;
    }));
    const auto snap = (*agent)->snapshot();
    (*agent)->stop();
    {
        std::lock_guard lock(calls.mutex);
        EXPECT_EQ(std::count(calls.jobs.begin(), calls.jobs.end(), "drill"), 0);
    }
    ASSERT_FALSE(snap.sources.empty());
    EXPECT_TRUE(snap.sources[0].last_job.contains(JobKind::drill));
    EXPECT_FALSE(snap.sources[0].last_job.at(JobKind::drill).ok);
    // Still firing across the restart: not sent again.
    EXPECT_EQ(read_file(alerts), "drill_failed firing\n");
    EXPECT_GE(snap.history.size(), 5u);

    // A reload that fails keeps the running configuration.
    AgentOptions bad;
    int loads = 0;
    bad.load = [&]() -> Result<AgentConfig> {
        if (loads++ == 0) return config(dir, alerts);
        return fail(ErrorCode::config, "agent.toml:3: unknown setting 'schedule.backups'");
    };
    bad.runner = std::make_unique<FakeRunner>(calls);
    auto third = Agent::start(std::move(bad));
    ASSERT_TRUE(third);
    const auto refused = (*third)->reload();
    ASSERT_FALSE(refused);
    EXPECT_EQ((*third)->snapshot().reload_error, refused.error().message);
    EXPECT_EQ((*third)->snapshot().sources.size(), 1u);
    (*third)->stop();
}

namespace {

// A source whose archive since the newest backup takes ~100 s to replay at the speed its drill
// measured (1 MB/s).
class SlowReplayRunner final : public JobRunner {
  public:
    Result<JobOutcome> backup(const SourceSpec&, const OperationContext&) override {
        ++backups;
        return JobOutcome{.bytes = 1, .summary = "backup"};
    }
    Result<JobOutcome> expire(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> copy(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> verify(const SourceSpec&, const OperationContext&) override { return {}; }
    Result<JobOutcome> drill(const SourceSpec&, const std::string&, const fs::path&,
                             const OperationContext&) override {
        return JobOutcome{.bytes = 0,
                          .summary = "drill passed",
                          .passed = true,
                          .rto_seconds = 3.0,
                          .replay_bytes = 2'000'000,
                          .replay_seconds = 2.0};
    }
    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repo) override {
        CatalogSummary c;
        c.repository = repo;
        const Timestamp now = system_clock().now();
        c.backups.push_back({"B1", now, now, 1, 1, 1});
        c.wal_since_newest_backup_bytes = 100'000'000;
        return c;
    }
    Result<std::optional<SourceProbe>> probe(const SourceSpec&) override { return SourceProbe{}; }
    std::atomic<int> backups{0};
};

}  // namespace

TEST(AgentRunner, RtoBudgetAsksForOneExtraBackup) {
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.rto_target = std::chrono::seconds(60);
    c.agent.schedules.emplace(JobKind::backup, Schedule::parse("0 4 1 1 *").value());
    c.agent.schedules.emplace(JobKind::drill, Schedule::parse("every 1h").value());
    SourceSpec s;
    s.name = "main";
    s.repository = "/nowhere";
    c.sources.push_back(s);
    auto runner = std::make_unique<SlowReplayRunner>();
    SlowReplayRunner& r = *runner;
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(c); };
    options.runner = std::move(runner);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    ASSERT_TRUE(eventually([&] { return r.backups.load() >= 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto snap = (*agent)->snapshot();
    (*agent)->stop();
    EXPECT_EQ(r.backups.load(), 1) << "one extra backup per newest backup, not a loop";
    ASSERT_FALSE(snap.sources.empty());
    // 1 s fixed + 100 MB at 1 MB/s.
    ASSERT_TRUE(estimated_rto_seconds(snap.sources[0]));
    EXPECT_DOUBLE_EQ(*estimated_rto_seconds(snap.sources[0]), 101.0);
    bool budget = false;
    for (const auto& job : snap.history)
        budget = budget || (job.kind == JobKind::backup && job.trigger == "rto budget");
    EXPECT_TRUE(budget);
}
