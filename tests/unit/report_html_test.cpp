// The HTML report (engine/report_html.hpp): what it draws and lists for synthetic report data,
// that everything from the repository is escaped, and that the page needs nothing from elsewhere.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "engine/report_html.hpp"

using namespace lifeboat;
using namespace lifeboat::engine;

namespace {

Timestamp t(std::int64_t seconds) {
    return Timestamp{1'800'000'000'000'000 + seconds * 1'000'000};
}

std::size_t count(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + needle.size()))
        ++n;
    return n;
}

repo::Manifest manifest(std::string id, std::uint32_t timeline, std::int64_t stop) {
    repo::Manifest m;
    m.id = std::move(id);
    m.timeline = timeline;
    m.start_time = t(stop - 5);
    m.stop_time = t(stop);
    m.stats.data_bytes = 40 << 20;
    m.stats.stored_bytes = 5 << 20;
    return m;
}

BackupReach reach(const repo::Manifest& m, std::size_t index, std::uint32_t timeline,
                  std::optional<std::int64_t> to) {
    BackupReach r;
    r.backup_id = m.id;
    r.backup_index = index;
    r.timeline = timeline;
    r.consistent = true;
    r.from = m.stop_time;
    if (to) r.to = t(*to);
    return r;
}

// Two timelines (2 branched off 1 at t(150)), three backups (the middle one with a hostile id
// and tags), a passing and a failing drill (whose reason is hostile too), a damaged object.
Report sample() {
    RepositoryReport r;
    r.name = "primary";
    r.location = "/srv/backups/<repo> & 'co'";
    auto& c = r.catalog;
    c.backups = {manifest("20261129T100000Z", 1, 100),
                 manifest("evil\"<script>alert(1)</script>", 1, 200),
                 manifest("20261129T100500Z", 2, 300)};
    c.backups[1].tags = {{"purpose", "<b>nightly</b> & \"more\""}};
    c.pins["20261129T100000Z"] = repo::Pin{"20261129T100000Z", std::nullopt, t(0), "", ""};
    c.window.backups = {reach(c.backups[0], 0, 1, 400), reach(c.backups[1], 1, 1, 400),
                        reach(c.backups[2], 2, 2, 500)};
    c.window.earliest = t(300);
    c.window.latest = t(500);
    TimelineWindow one;
    one.timeline = 1;
    one.reaches = {c.window.backups[0], c.window.backups[1]};
    one.earliest = t(100);
    one.latest = t(400);
    TimelineWindow two;
    two.timeline = 2;
    two.parent = 1;
    two.branch_lsn = "0/5000000";
    two.branch_time = t(150);
    two.ancestors = {1};
    two.reaches = {reach(c.backups[0], 0, 2, 500), c.window.backups[2]};
    two.earliest = t(100);
    two.latest = t(500);
    c.window.timelines = {one, two};
    c.window.wal_files = 7;
    c.window.last_segment = "000000020000000000000007";
    c.damaged = {{"wal/0000000100000000/000000010000000000000003", "checksum <mismatch>"}};
    c.stored_bytes = 10 << 20;
    c.logical_bytes = 120 << 20;

    DrillRecord good;
    good.id = "20261129T101000Z-0001";
    good.started = t(600);
    good.target = t(350);
    good.backup_id = "20261129T100500Z";
    good.passed = true;
    good.total_seconds = 4.2;
    good.files_seconds = 1;
    good.replay_seconds = 2;
    good.ready_seconds = 1;
    good.databases = {{"postgres", true, "ok"}};
    DrillRecord bad;
    bad.id = "20261129T102000Z-0002";
    bad.started = t(700);
    bad.target = t(20);
    bad.passed = false;
    bad.error = "target <before> every backup & \"window\"";
    DrillRecord failed_check = good;
    failed_check.id = "20261129T103000Z-0003";
    failed_check.started = t(800);
    failed_check.passed = false;
    failed_check.checks = {{"sql", "users exist", "got 0 <expected > 0>", false, false, "app"}};
    r.drills = {good, bad, failed_check};
    r.newest_wal_pushed = t(480);
    r.retention = "window 7d";
    return Report{.generated = t(900), .repositories = {r}};
}

TEST(ReportHtml, DrawsEveryTimelineBackupAndDrill) {
    const std::string page = render_report_html(sample());
    EXPECT_EQ(count(page, "<svg class=\"timeline-drawing\""), 1u);
    EXPECT_EQ(count(page, "class=\"lane\" data-timeline=\"1\""), 1u);
    EXPECT_EQ(count(page, "class=\"lane\" data-timeline=\"2\""), 1u);
    EXPECT_EQ(count(page, "<path class=\"branch\""), 1u);
    EXPECT_EQ(count(page, "class=\"backup-marker"), 3u);
    EXPECT_EQ(count(page, "class=\"backup-marker pinned\""), 1u);
    EXPECT_EQ(count(page, "class=\"drill-marker passed\""), 1u);
    EXPECT_EQ(count(page, "class=\"drill-marker failed\""), 2u);
    EXPECT_EQ(count(page, "class=\"window\""), 2u);
}

TEST(ReportHtml, ListsBackupsDrillsTimelinesAndRepositoriesInTables) {
    const std::string page = render_report_html(sample());
    for (std::string_view table : {"repositories", "timelines", "backups", "drills", "damaged"})
        EXPECT_EQ(count(page, fmt::format("<table class=\"{}\">", table)), 1u) << table;
    EXPECT_EQ(count(page, "<tr id=\"backup-"), 3u);
    EXPECT_EQ(count(page, "<tr class=\"passed\" title=\"drill"), 1u);
    EXPECT_EQ(count(page, "<tr class=\"failed\" title=\"drill"), 2u);
    // Failure reasons, from the error and from the failed check.
    EXPECT_NE(page.find("target &lt;before&gt; every backup &amp; &quot;window&quot;"),
              std::string::npos);
    EXPECT_NE(page.find("app: users exist — got 0 &lt;expected &gt; 0&gt;"), std::string::npos);
    // The RTO and its phases.
    EXPECT_NE(page.find("4.2 s"), std::string::npos);
    EXPECT_NE(page.find("1.0 / 2.0 / 1.0 s"), std::string::npos);
    // The newest drill failed and an object is damaged: both are called out.
    EXPECT_NE(page.find("the newest drill, <code>20261129T103000Z-0003</code>, failed"),
              std::string::npos);
    EXPECT_NE(page.find("1 damaged object(s)"), std::string::npos);
}

TEST(ReportHtml, EscapesEverythingFromTheRepository) {
    const std::string page = render_report_html(sample());
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("<b>"), std::string::npos);
    EXPECT_EQ(page.find("<repo>"), std::string::npos);
    EXPECT_EQ(page.find("<before>"), std::string::npos);
    EXPECT_EQ(page.find("<mismatch>"), std::string::npos);
    EXPECT_NE(page.find("evil&quot;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(page.find("purpose=&lt;b&gt;nightly&lt;/b&gt; &amp; &quot;more&quot;"),
              std::string::npos);
    EXPECT_NE(page.find("/srv/backups/&lt;repo&gt; &amp; &#39;co&#39;"), std::string::npos);
    EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST(ReportHtml, NeedsNothingFromElsewhere) {
    const std::string page = render_report_html(sample());
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("src="), std::string::npos);
    EXPECT_EQ(page.find("url("), std::string::npos);
    EXPECT_EQ(page.find("@import"), std::string::npos);
    EXPECT_EQ(page.find("<link"), std::string::npos);
    // The only absolute URL is the SVG namespace name, which is never fetched.
    EXPECT_EQ(count(page, "http"), 1u);
    EXPECT_EQ(count(page, "xmlns=\"http://www.w3.org/2000/svg\""), 1u);
}

// read_drills gives a damaged record as a failed drill without times: listed with its reason,
// not drawn at the epoch (which would squash the drawing into a corner).
TEST(ReportHtml, DamagedDrillRecordIsListedNotDrawn) {
    Report report = sample();
    DrillRecord damaged;
    damaged.id = "20261129T090000Z-dead";
    damaged.error = "unreadable drill record drills/20261129T090000Z-dead: bad magic";
    auto& drills = report.repositories[0].drills;
    drills.insert(drills.begin(), damaged);
    const std::string page = render_report_html(report);
    EXPECT_EQ(count(page, "class=\"drill-marker"), 3u);
    EXPECT_EQ(count(page, "<tr class=\"failed\" title=\"drill"), 3u);
    EXPECT_NE(page.find("bad magic"), std::string::npos);
    EXPECT_EQ(page.find("1970-"), std::string::npos);
}

TEST(ReportHtml, OneSectionAndOneOverviewRowPerRepository) {
    Report report = sample();
    RepositoryReport west = report.repositories[0];
    west.name = "west";
    west.location = "s3://bucket/west";
    report.repositories.push_back(west);
    const std::string page = render_report_html(report);
    EXPECT_EQ(count(page, "<section class=\"repository\""), 2u);
    EXPECT_NE(page.find("<a href=\"#repository-1\">primary</a>"), std::string::npos);
    EXPECT_NE(page.find("<a href=\"#repository-2\">west</a>"), std::string::npos);
    EXPECT_EQ(count(page, "<svg class=\"timeline-drawing\""), 2u);
}

TEST(ReportHtml, IsAPureFunctionOfItsData) {
    EXPECT_EQ(render_report_html(sample()), render_report_html(sample()));
}

TEST(ReportHtml, EmptyRepositorySaysSoInsteadOfDrawing) {
    RepositoryReport r;
    r.location = "/srv/empty";
    r.retention = "window 7d";
    const std::string page = render_report_html(Report{.generated = t(0), .repositories = {r}});
    EXPECT_EQ(page.find("<svg"), std::string::npos);
    EXPECT_NE(page.find("Nothing to draw"), std::string::npos);
    EXPECT_NE(page.find("no backup yet: nothing can be restored"), std::string::npos);
    EXPECT_NE(page.find("No drill recorded yet"), std::string::npos);
    EXPECT_EQ(page.find("<table class=\"backups\">"), std::string::npos);
    EXPECT_EQ(page.find("x less"), std::string::npos);  // no ratio for nothing stored
    EXPECT_EQ(page.find("<p class=\"location\">"), std::string::npos);  // said once, as the title
}

}  // namespace
