// The agent's side of logical sources (a kind with a log stream): the slot_retained_above rule's
// configuration and alert, the RPO and metrics from the slot's figures, and the capture thread
// over a fake runner (started after the first backup, restarted after a failure, stopped around
// a backup of its source and when the agent stops).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/agent.hpp"
#include "agent/alerts.hpp"
#include "agent/config.hpp"
#include "agent/figures.hpp"
#include "agent/state.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

constexpr std::int64_t k_second = 1000000;
constexpr std::uint64_t k_gib = 1024ull * 1024 * 1024;

Timestamp at(const char* iso) {
    return parse_iso8601(iso).value();
}

SourceSpec logical_source() {
    SourceSpec s;
    s.name = "orders";
    s.kind = "postgres-logical";
    s.repository = "/repo";
    s.repository_name = "primary";
    return s;
}

SourceProbe slot(std::uint64_t retained, std::uint64_t unconfirmed, std::uint64_t next_xid,
                 std::string confirmed = "0/3000000") {
    SourceProbe p;
    p.current_lsn = "0/4000000";
    p.last_archived_wal = std::move(confirmed);
    p.lag_bytes = unconfirmed;
    p.next_xid = next_xid;
    p.stream = true;
    p.slot_retained_bytes = retained;
    p.slot_active = true;
    return p;
}

const AlertStatus* find_alert(const std::vector<AlertStatus>& alerts, std::string_view name) {
    for (const auto& a : alerts)
        if (a.name == name) return &a;
    return nullptr;
}

std::string write(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream f(path);
    f << text;
    return path;
}

}  // namespace

TEST(AgentLogical, ParsesByteSizes) {
    EXPECT_EQ(parse_byte_size("10GB"), 10 * k_gib);
    EXPECT_EQ(parse_byte_size("10GiB"), 10 * k_gib);
    EXPECT_EQ(parse_byte_size("512MB"), 512ull * 1024 * 1024);
    EXPECT_EQ(parse_byte_size("64kB"), 64ull * 1024);
    EXPECT_EQ(parse_byte_size("1TB"), 1024 * k_gib);
    EXPECT_EQ(parse_byte_size("100B"), 100u);
    EXPECT_EQ(parse_byte_size("4096"), 4096u);
    EXPECT_EQ(parse_byte_size("1 GB"), k_gib);
    for (const char* bad : {"", "GB", "0GB", "-1GB", "10 parsecs", "10gb", "1.5GB", "10GBB"})
        EXPECT_FALSE(parse_byte_size(bad)) << bad;
}

TEST(AgentLogical, ReadsSlotRetainedAboveAgentWideAndPerSource) {
    const auto s = read_agent_settings(write("agent_logical.toml", R"([agent]
listen = "127.0.0.1:0"
[schedule]
backup = "every 1d"
[alerts]
slot_retained_above = "10GB"
[[sources]]
name = "orders"
kind = "postgres-logical"
pg = "host=/tmp dbname=orders"
repository = "/r1"
[sources.alerts]
slot_retained_above = 1048576
)"));
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->alerts.slot_retained_above, 10 * k_gib);
    ASSERT_EQ(s->source_entries.size(), 1u);
    EXPECT_EQ(s->source_entries[0].kind, "postgres-logical");
    EXPECT_EQ(s->source_entries[0].policy.alerts.slot_retained_above, 1048576u);

    for (const char* bad :
         {"[alerts]\nslot_retained_above = \"10 parsecs\"\n", "[alerts]\nslot_retained_above = 0\n",
          "[alerts]\nslot_retained_above = \"0GB\"\n", "[alerts]\nslot_retained_above = true\n"}) {
        const auto r = read_agent_settings(write("agent_logical_bad.toml", bad));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::config) << bad;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
        EXPECT_NE(r.error().message.find("slot_retained_above"), std::string::npos)
            << r.error().message;
    }
}

TEST(AgentLogical, SlotRetainedFiresOnceAboveTheLimitAndResolves) {
    const Timestamp t0 = at("2026-11-29T10:00:00Z");
    AgentState state(t0);
    state.set_sources({logical_source()}, std::nullopt);
    state.set_stream("orders", true);
    AlertSettings t;
    t.slot_retained_above = 1024 * 1024;
    AlertTracker tracker;
    std::vector<Notification> sent;
    auto step = [&](std::int64_t seconds, std::uint64_t retained) {
        const Timestamp now{t0.micros + seconds * k_second};
        state.probed("orders", slot(retained, 0, 700), now);
        auto alerts = evaluate_alerts(state.snapshot(now), t);
        for (auto& n : tracker.update(alerts, now))
            sent.push_back(n);
        return alerts;
    };
    auto alerts = step(0, 4096);
    ASSERT_TRUE(find_alert(alerts, "slot_retained"));
    EXPECT_FALSE(find_alert(alerts, "slot_retained")->firing);
    step(5, 1024 * 1024);  // at the limit: not above it
    EXPECT_TRUE(sent.empty());
    alerts = step(10, 3 * 1024 * 1024);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].alert, "slot_retained");
    EXPECT_EQ(sent[0].state, "firing");
    EXPECT_EQ(sent[0].value, "3145728");
    EXPECT_EQ(sent[0].threshold, "1048576");
    EXPECT_NE(sent[0].message.find("retains 3145728 bytes"), std::string::npos);
    step(15, 4 * 1024 * 1024);
    EXPECT_EQ(sent.size(), 1u) << "de-duplicated while firing";
    step(20, 8192);
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[1].state, "resolved");

    // A physical source's probe has no slot: the rule has no value there.
    AgentState physical(t0);
    SourceSpec p = logical_source();
    p.kind = "postgres-physical";
    physical.set_sources({p}, std::nullopt);
    SourceProbe archive;
    archive.last_archived_wal = "000000010000000000000002";
    physical.probed("orders", archive, t0);
    EXPECT_FALSE(find_alert(evaluate_alerts(physical.snapshot(t0), t), "slot_retained"));
}

// The RPO of a logical source: the age of the oldest commit the capture has not stored, from the
// slot's unconfirmed WAL; bookkeeping WAL with no new transaction id is nothing at risk.
TEST(AgentLogical, RpoOfALogicalSourceAndTheRpoRule) {
    const Timestamp t0 = at("2026-11-29T10:00:00Z");
    AgentState state(t0);
    state.set_sources({logical_source()}, std::nullopt);
    state.set_stream("orders", true);
    AlertSettings t;
    t.rpo_above = std::chrono::seconds(60);
    auto rpo_at = [&](std::int64_t seconds) {
        const Timestamp now{t0.micros + seconds * k_second};
        return rpo_seconds(state.snapshot(now).sources[0], now);
    };
    state.probed("orders", slot(0, 0, 700, "0/3000000"), t0);
    EXPECT_EQ(rpo_at(0), 0);
    // Bookkeeping records only (no new transaction id): caught up.
    state.probed("orders", slot(200, 200, 700, "0/3000000"), Timestamp{t0.micros + 5 * k_second});
    EXPECT_EQ(rpo_at(5), 0);
    // A commit the capture does not store (it is down): the RPO grows and the rule fires.
    state.probed("orders", slot(9000, 9000, 701, "0/3000000"),
                 Timestamp{t0.micros + 10 * k_second});
    state.probed("orders", slot(9000, 9000, 701, "0/3000000"),
                 Timestamp{t0.micros + 100 * k_second});
    EXPECT_DOUBLE_EQ(rpo_at(100), 90);
    const Timestamp late{t0.micros + 100 * k_second};
    const auto alerts = evaluate_alerts(state.snapshot(late), t);
    ASSERT_TRUE(find_alert(alerts, "rpo"));
    EXPECT_TRUE(find_alert(alerts, "rpo")->firing);
    EXPECT_NE(find_alert(alerts, "rpo")->message.find("its capture has not stored for 90s"),
              std::string::npos)
        << find_alert(alerts, "rpo")->message;
    // Stored and confirmed: caught up again.
    state.probed("orders", slot(0, 0, 701, "0/3002000"), Timestamp{t0.micros + 101 * k_second});
    EXPECT_EQ(rpo_at(101), 0);
}

TEST(AgentLogical, MetricsOfALogicalSource) {
    const Timestamp t0 = at("2026-11-29T10:00:00Z");
    AgentState state(t0);
    SourceSpec physical = logical_source();
    physical.name = "billing";
    physical.kind = "postgres-physical";
    state.set_sources({logical_source(), physical}, std::nullopt);
    state.set_stream("orders", true);
    state.capture_running("orders", true);
    CatalogSummary c;
    c.repository = "/repo";
    c.backups.push_back({"B1", t0, t0, 1, 10, 10});
    c.window_start = t0;
    // The capture stored an object 1.5 s after its newest commit.
    const Timestamp commit{t0.micros + 60 * k_second};
    c.window_end = commit;
    state.capture_stored("orders", Timestamp{commit.micros + 1500000});
    state.catalog_loaded("orders", c, Timestamp{commit.micros + 2 * k_second});
    state.probed("orders", slot(123456, 0, 700), Timestamp{commit.micros + 2 * k_second});
    JobRecord failed{"orders", JobKind::capture, "continuous", t0, t0, false, 0, "connection lost"};
    state.job_finished(failed);
    const std::string m =
        render_metrics(state.snapshot(Timestamp{commit.micros + 3 * k_second}), {});
    const std::string labels = "source=\"orders\",repository=\"primary\"";
    EXPECT_NE(m.find("lifeboat_capture_up{" + labels + "} 1\n"), std::string::npos) << m;
    EXPECT_NE(m.find(fmt::format("lifeboat_capture_newest_commit_timestamp_seconds{{{}}} {}\n",
                                 labels, commit.micros / 1e6)),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("lifeboat_capture_lag_seconds{" + labels + "} 1.5\n"), std::string::npos) << m;
    EXPECT_NE(m.find("lifeboat_slot_retained_wal_bytes{" + labels + "} 123456\n"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("lifeboat_job_failures_total{" + labels + ",kind=\"capture\"} 1\n"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("lifeboat_rpo_seconds{" + labels + "} 0\n"), std::string::npos) << m;
    const auto api = nlohmann::json::parse(
        status_json(state.snapshot(Timestamp{commit.micros + 3 * k_second}), {}));
    EXPECT_EQ(api.at("sources").at(0).at("capture").at("slot_retained_bytes"), 123456);
    EXPECT_EQ(api.at("sources").at(0).at("capture").at("up"), true);
    EXPECT_TRUE(api.at("sources").at(1).at("capture").is_null()) << "the physical source";
    // The physical source has no capture figures.
    EXPECT_EQ(m.find("lifeboat_capture_up{source=\"billing\""), std::string::npos);
    EXPECT_EQ(m.find("kind=\"capture\"} 0\n"), std::string::npos);
}

namespace {

// A runner whose source has a log stream: the capture fails on its first run, then runs until
// cancelled. Backups and captures must never overlap.
class StreamRunner final : public JobRunner {
  public:
    Result<JobOutcome> backup(const SourceSpec&, const OperationContext&) override {
        if (capturing.load()) overlapped = true;
        backups.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        has_backup = true;
        return JobOutcome{.bytes = 1, .summary = "backup"};
    }
    Result<JobOutcome> expire(const SourceSpec&, const OperationContext&) override {
        return JobOutcome{};
    }
    Result<JobOutcome> copy(const SourceSpec&, const OperationContext&) override {
        return JobOutcome{};
    }
    Result<JobOutcome> verify(const SourceSpec&, const OperationContext&) override {
        return JobOutcome{};
    }
    Result<JobOutcome> drill(const SourceSpec&, const std::string&, const fs::path&,
                             const OperationContext&) override {
        return JobOutcome{};
    }
    Result<CatalogSummary> load_catalog(const SourceSpec&, const std::string& repo) override {
        CatalogSummary c;
        c.repository = repo;
        if (has_backup) c.backups.push_back({"B1", {}, {}, 1, 1, 1});
        return c;
    }
    Result<std::optional<SourceProbe>> probe(const SourceSpec&) override {
        return std::optional<SourceProbe>(slot(100, 0, 1));
    }
    bool has_log_stream(const SourceSpec&) override { return true; }
    Result<JobOutcome> capture(const SourceSpec&, const OperationContext& ctx) override {
        if (!has_backup) before_backup = true;
        const int run = captures.fetch_add(1);
        if (run == 0) return fail(ErrorCode::database, "connection to the source lost");
        capturing = true;
        ctx.report({"capturing: object", 1, 0});
        while (!ctx.cancellation->cancelled())
            (void)ctx.sleep_for(std::chrono::milliseconds(20));
        capturing = false;
        ended_cleanly.fetch_add(1);
        return JobOutcome{.summary = "captured", .lag_seconds = 0.25};
    }

    std::atomic<bool> has_backup{false};
    std::atomic<bool> capturing{false};
    std::atomic<bool> overlapped{false};
    std::atomic<bool> before_backup{false};
    std::atomic<int> backups{0};
    std::atomic<int> captures{0};
    std::atomic<int> ended_cleanly{0};
};

template <typename F>
bool wait_for(F condition) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

TEST(AgentLogical, CaptureRunsAfterTheFirstBackupRestartsAndStopsAroundBackups) {
    AgentConfig c;
    c.agent.listen_port = 0;
    c.agent.probe_interval = std::chrono::seconds(1);
    c.agent.schedules.emplace(JobKind::backup, Schedule::parse("every 2s").value());
    c.sources.push_back(logical_source());
    auto owned = std::make_unique<StreamRunner>();
    StreamRunner& runner = *owned;
    AgentOptions options;
    options.load = [&] { return Result<AgentConfig>(c); };
    options.runner = std::move(owned);
    auto agent = Agent::start(std::move(options));
    ASSERT_TRUE(agent) << agent.error().message;
    // The first backup, a failed capture run, its restart after the backoff, then a second
    // backup (which stops and restarts the capture).
    EXPECT_TRUE(wait_for([&] { return runner.backups.load() >= 2 && runner.captures >= 3; }));
    EXPECT_TRUE(wait_for([&] { return runner.capturing.load(); }));
    const auto snap = (*agent)->snapshot();
    (*agent)->stop();
    EXPECT_FALSE(runner.before_backup) << "the capture starts after the source's first backup";
    EXPECT_FALSE(runner.overlapped) << "a backup never runs while the capture holds the slot";
    EXPECT_FALSE(runner.capturing) << "stop() ends the capture";
    EXPECT_GE(runner.ended_cleanly.load(), 2) << "stopped for the backup, and at stop()";
    ASSERT_EQ(snap.sources.size(), 1u);
    EXPECT_TRUE(snap.sources[0].stream);
    EXPECT_EQ(snap.sources[0].failures.at(JobKind::capture), 1u);
    EXPECT_EQ(snap.sources[0].capture_lag_seconds, 0.25);
    bool recorded = false;
    for (const auto& r : snap.history)
        recorded =
            recorded || (r.kind == JobKind::capture && !r.ok &&
                         r.message.find("connection to the source lost") != std::string::npos);
    EXPECT_TRUE(recorded) << "the failed run is in the job history";
}

TEST(AgentLogical, ACaptureFailureIsReadBackFromTheHistoryFile) {
    const std::string dir = ::testing::TempDir() + "/agent_logical_history";
    std::filesystem::remove_all(dir);
    const Timestamp t0 = at("2026-11-29T10:00:00Z");
    JobRecord r{"orders", JobKind::capture, "continuous", t0, t0, false, 0, "connection lost"};
    ASSERT_TRUE(append_history(dir, r));
    const auto back = read_history(dir);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].kind, JobKind::capture);
    EXPECT_EQ(back[0].message, "connection lost");
}
