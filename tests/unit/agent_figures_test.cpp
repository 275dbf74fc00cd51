// The agent's figures, alerts and configuration over a state driven by hand (no server): RPO
// from probes, an idle source never alerting, de-duplicated transitions, the exposition's names.
#include <gtest/gtest.h>

#include <fstream>

#include "agent/alerts.hpp"
#include "agent/config.hpp"
#include "agent/figures.hpp"
#include "agent/page.hpp"
#include "agent/state.hpp"

using namespace lifeboat;
using namespace lifeboat::agent;

namespace {

constexpr std::int64_t k_second = 1000000;

Timestamp at(const char* iso) {
    return parse_iso8601(iso).value();
}

SourceSpec source() {
    SourceSpec s;
    s.name = "main";
    s.repository = "/repo";
    s.repository_name = "primary";
    return s;
}

SourceProbe probe(std::string archived, std::uint64_t lag) {
    return {"0/3000000", std::move(archived), lag, 0};
}

CatalogSummary catalog(Timestamp backup_stop) {
    CatalogSummary c;
    c.repository = "/repo";
    c.backups.push_back(
        {"B1", Timestamp{backup_stop.micros - 60 * k_second}, backup_stop, 60, 1000, 5000});
    c.window_start = backup_stop;
    c.window_end = backup_stop;
    c.stored_bytes = 1000;
    c.logical_bytes = 5000;
    return c;
}

const AlertStatus* find_alert(const std::vector<AlertStatus>& alerts, std::string_view name) {
    for (const auto& a : alerts)
        if (a.name == name) return &a;
    return nullptr;
}

}  // namespace

TEST(AgentFigures, RpoGrowsWhileTheArchiveIsStuckAndResetsWhenItMoves) {
    const Timestamp t0 = at("2026-11-29T10:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    state.probed("main", probe("000000010000000000000002", 0), t0);
    EXPECT_EQ(rpo_seconds(state.snapshot(t0).sources[0], t0), 0);
    // Writes arrive; the archive is stuck on segment 2.
    state.probed("main", probe("000000010000000000000002", 4096), Timestamp{t0.micros + k_second});
    state.probed("main", probe("000000010000000000000002", 9000),
                 Timestamp{t0.micros + 30 * k_second});
    const Timestamp later{t0.micros + 90 * k_second};
    EXPECT_DOUBLE_EQ(rpo_seconds(state.snapshot(later).sources[0], later), 89);
    // The archive moves on while writes continue: the pending changes are new.
    state.probed("main", probe("000000010000000000000003", 100), later);
    EXPECT_DOUBLE_EQ(rpo_seconds(state.snapshot(later).sources[0], later), 0);
    // Everything archived.
    state.probed("main", probe("000000010000000000000003", 0), later);
    EXPECT_DOUBLE_EQ(
        rpo_seconds(state.snapshot(Timestamp{later.micros + 1000 * k_second}).sources[0],
                    Timestamp{later.micros + 1000 * k_second}),
        0);
}

TEST(AgentFigures, AnIdleSourceRaisesNoAlertForADay) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    AlertSettings t;
    t.rpo_above = std::chrono::seconds(300);
    t.backup_older_than = std::chrono::hours(26);
    t.growth_above_percent = 50;
    state.catalog_loaded("main", catalog(t0), t0);
    AlertTracker tracker;
    // 24 simulated hours, a probe a minute: nothing written, nothing archived, nothing behind.
    for (std::int64_t minute = 0; minute <= 24 * 60; ++minute) {
        const Timestamp now{t0.micros + minute * 60 * k_second};
        state.probed("main", probe("000000010000000000000002", 0), now);
        if (minute % 15 == 0) state.catalog_loaded("main", catalog(t0), now);
        auto alerts = evaluate_alerts(state.snapshot(now), t);
        EXPECT_TRUE(tracker.update(alerts, now).empty()) << "minute " << minute;
    }
}

TEST(AgentFigures, AlertsFireOnceAndResolveOnce) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    state.catalog_loaded("main", catalog(t0), t0);
    AlertSettings t;
    t.rpo_above = std::chrono::seconds(60);
    AlertTracker tracker;
    std::vector<Notification> sent;
    auto step = [&](std::int64_t seconds, std::uint64_t lag, const char* archived) {
        const Timestamp now{t0.micros + seconds * k_second};
        state.probed("main", probe(archived, lag), now);
        auto alerts = evaluate_alerts(state.snapshot(now), t);
        for (auto& n : tracker.update(alerts, now))
            sent.push_back(n);
        return alerts;
    };
    step(0, 100, "000000010000000000000002");
    step(30, 200, "000000010000000000000002");
    EXPECT_TRUE(sent.empty());
    auto alerts = step(61, 300, "000000010000000000000002");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].alert, "rpo");
    EXPECT_EQ(sent[0].state, "firing");
    EXPECT_EQ(sent[0].source, "main");
    EXPECT_EQ(sent[0].threshold, "60");
    EXPECT_NE(sent[0].message.find("not archived"), std::string::npos);
    ASSERT_TRUE(find_alert(alerts, "rpo"));
    EXPECT_EQ(find_alert(alerts, "rpo")->since, Timestamp{t0.micros + 61 * k_second});
    for (int i = 62; i < 120; ++i)
        step(i, 300, "000000010000000000000002");
    EXPECT_EQ(sent.size(), 1u) << "de-duplicated while firing";
    step(121, 0, "000000010000000000000004");
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[1].state, "resolved");
    step(122, 0, "000000010000000000000004");
    EXPECT_EQ(sent.size(), 2u);

    // The bodies: generic JSON and Slack's text.
    const std::string body = notification_json(sent[0]);
    for (const char* field : {"\"alert\":\"rpo\"", "\"state\":\"firing\"", "\"source\":\"main\"",
                              "\"value\":", "\"threshold\":\"60\"", "\"message\":"})
        EXPECT_NE(body.find(field), std::string::npos) << field << " in " << body;
    EXPECT_NE(slack_json(sent[1]).find("\"text\":\"[RESOLVED] lifeboat rpo on main"),
              std::string::npos);
}

TEST(AgentFigures, BackupFailureFiresAndFailuresAreCounted) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    state.job_finished(
        {"main", JobKind::backup, "schedule", t0, t0, false, 0, "connection refused"});
    const auto snap = state.snapshot(t0);
    const auto alerts = evaluate_alerts(snap, {});
    ASSERT_TRUE(find_alert(alerts, "backup_failed"));
    EXPECT_TRUE(find_alert(alerts, "backup_failed")->firing);
    const std::string metrics = render_metrics(snap, {});
    EXPECT_NE(metrics.find("lifeboat_job_failures_total{source=\"main\",repository=\"primary\","
                           "kind=\"backup\"} 1\n"),
              std::string::npos)
        << metrics;
    state.job_finished({"main", JobKind::backup, "schedule", t0, t0, true, 10, "backup B2"});
    EXPECT_FALSE(find_alert(evaluate_alerts(state.snapshot(t0), {}), "backup_failed")->firing);
}

TEST(AgentFigures, MetricsArePresentBeforeAnythingHappened) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    const std::string metrics = render_metrics(state.snapshot(t0), {});
    for (const char* name :
         {"lifeboat_backup_last_success_timestamp_seconds", "lifeboat_backup_last_duration_seconds",
          "lifeboat_wal_archive_lag_bytes", "lifeboat_rpo_seconds",
          "lifeboat_restorable_window_start_timestamp_seconds",
          "lifeboat_restorable_window_end_timestamp_seconds", "lifeboat_repository_stored_bytes",
          "lifeboat_drill_last_success_timestamp_seconds", "lifeboat_drill_last_rto_seconds"}) {
        EXPECT_NE(metrics.find(std::string(name) + "{source=\"main\",repository=\"primary\"} 0\n"),
                  std::string::npos)
            << name;
    }
    EXPECT_NE(metrics.find("lifeboat_up 1\n"), std::string::npos);
    EXPECT_NE(metrics.find("lifeboat_up{source=\"main\",repository=\"primary\"} 1\n"),
              std::string::npos);
    EXPECT_NE(metrics.find("lifeboat_readiness{source=\"main\",repository=\"primary\","
                           "verdict=\"not_ready\"} 1\n"),
              std::string::npos);
}

TEST(AgentFigures, Readiness) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    state.set_sources({source()}, std::nullopt);
    EXPECT_EQ(readiness(state.snapshot(t0).sources[0], {}, t0).verdict, "not_ready");
    auto c = catalog(t0);
    c.last_drill = c.last_good_drill = DrillSummary{"D1", t0, true, 42, 10, ""};
    state.catalog_loaded("main", c, t0);
    const Timestamp soon{t0.micros + 3600 * k_second};
    auto r = readiness(state.snapshot(soon).sources[0], {}, soon);
    EXPECT_EQ(r.verdict, "ready") << (r.reasons.empty() ? "" : r.reasons[0]);
    const Timestamp late{t0.micros + 30 * 3600 * k_second};
    r = readiness(state.snapshot(late).sources[0], {}, late);
    EXPECT_EQ(r.verdict, "at_risk");
    ASSERT_FALSE(r.reasons.empty());
    EXPECT_NE(r.reasons[0].find("newest backup is"), std::string::npos);
    // The page shows it, with the window and the drill.
    const std::string page = status_page_html(state.snapshot(soon), {});
    EXPECT_NE(page.find("verdict ready"), std::string::npos);
    EXPECT_NE(page.find("class=\"window-range\""), std::string::npos);
    EXPECT_NE(page.find("last-drill passed"), std::string::npos);
}

TEST(AgentConfig, ReadsTheAgentSections) {
    const std::string path = ::testing::TempDir() + "/agent_config_test.toml";
    {
        std::ofstream f(path);
        f << "[repository]\npath = \"/r\"\n[agent]\nlisten = \"127.0.0.1:9999\"\nsource = \"db1\"\n"
             "rto_target = \"5m\"\n[schedule]\nbackup = \"0 4 * * *\"\ndrill = \"every 7d\"\n"
             "[alerts]\nwebhook = [\"http://a/x\", \"http://b/y\"]\nrpo_above = \"5m\"\n"
             "growth_above = \"50%\"\n";
    }
    const auto s = read_agent_settings(path);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->listen_port, 9999);
    EXPECT_EQ(s->source_name, "db1");
    EXPECT_EQ(s->rto_target, std::chrono::seconds(300));
    EXPECT_EQ(s->schedules.size(), 2u);
    EXPECT_EQ(s->alerts.webhooks.size(), 2u);
    EXPECT_EQ(s->alerts.rpo_above, std::chrono::seconds(300));
    EXPECT_EQ(s->alerts.growth_above_percent, 50);

    for (const char* bad :
         {"[agent]\nlisten = \"0.0.0.0:9187\"\n", "[agent]\nlisten = \"x\"\n",
          "[schedule]\nbackup = \"daily\"\n", "[schedule]\nbackups = \"every 1h\"\n",
          "[alerts]\nrpo_above = \"5 minutes\"\n", "[alerts]\ngrowth_above = \"50\"\n",
          "[agent]\nlisten = 9187\n"}) {
        {
            std::ofstream f(path);
            f << bad;
        }
        const auto r = read_agent_settings(path);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::config) << bad;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
}

// A stream resumed from a server-side history of limited age (MongoDB, DocumentDB): the
// change_history alert fires once the stored resume point's age reaches the configured share of
// that history, and resolves when capture moves the point on.
TEST(AgentFigures, ChangeHistoryFiresHalfWayOutOfTheServersHistory) {
    const Timestamp t0 = at("2026-11-29T00:00:00Z");
    AgentState state(t0);
    SourceSpec mongo = source();
    mongo.kind = "mongodb";
    state.set_sources({mongo}, std::nullopt);
    state.set_stream("main", true);
    state.catalog_loaded("main", catalog(t0), t0);
    AlertSettings t;  // history_used_above_percent: 50 by default
    AlertTracker tracker;
    std::vector<Notification> sent;
    auto step = [&](std::int64_t seconds, double history, double resume_age) {
        const Timestamp now{t0.micros + seconds * k_second};
        SourceProbe p = probe("1764374400.1", 0);
        p.stream = true;
        p.history_seconds = history;
        p.resume_age_seconds = resume_age;
        state.probed("main", p, now);
        auto alerts = evaluate_alerts(state.snapshot(now), t);
        for (auto& n : tracker.update(alerts, now))
            sent.push_back(n);
    };
    step(0, 10800, 2);  // DocumentDB's default 3 hours, the capture keeping up
    step(60, 10800, 5300);
    EXPECT_TRUE(sent.empty());
    step(120, 10800, 5400);  // half of the history
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].alert, "change_history");
    EXPECT_EQ(sent[0].state, "firing");
    EXPECT_EQ(sent[0].value, "50%");
    EXPECT_NE(sent[0].message.find("new base backup"), std::string::npos) << sent[0].message;
    step(180, 10800, 1);
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[1].state, "resolved");
    // The figures are exported.
    const std::string metrics =
        render_metrics(state.snapshot(Timestamp{t0.micros + 180 * k_second}), t);
    EXPECT_NE(metrics.find("lifeboat_change_history_seconds{source=\"main\""), std::string::npos);
    EXPECT_NE(metrics.find("lifeboat_resume_point_age_seconds{source=\"main\""), std::string::npos);
}

TEST(AgentConfig, AMongodbSourceTakesMongoAndTheHistoryThreshold) {
    const std::string path = ::testing::TempDir() + "/agent_config_mongo.toml";
    auto read = [&](const std::string& text) {
        std::ofstream(path) << text;
        return read_agent_settings(path);
    };
    const auto ok = read(
        "[alerts]\nhistory_used_above = \"40%\"\n"
        "[[sources]]\nname = \"docs\"\nkind = \"mongodb\"\nmongo = \"mongodb://h/\"\n"
        "repository = \"/r\"\n");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->alerts.history_used_above_percent, 40);
    ASSERT_EQ(ok->source_entries.size(), 1u);
    EXPECT_EQ(ok->source_entries[0].mongo, "mongodb://h/");
    for (const char* bad :
         {"[[sources]]\nname = \"d\"\nkind = \"mongodb\"\npg = \"host=x\"\nrepository = \"/r\"\n",
          "[[sources]]\nname = \"d\"\nkind = \"mongodb\"\nrepository = \"/r\"\n",
          "[[sources]]\nname = \"d\"\nmongo = \"mongodb://h/\"\npg = \"host=x\"\nrepository = "
          "\"/r\"\n",
          "[alerts]\nhistory_used_above = \"150%\"\n"}) {
        const auto r = read(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::config) << bad;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
}
