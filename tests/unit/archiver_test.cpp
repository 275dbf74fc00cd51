// sources/postgres/archiver: pg_stat_archiver, archive settings, the forced WAL switch and the
// server log's reason for a failed archive_command, against a real PostgreSQL 15 (skipped when
// the binaries are absent); the log parsing on its own.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "postgres_test_cluster.hpp"
#include "sources/postgres/archiver.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

TEST(FindArchiveFailure, QuotesTheCommandsLineAndTheExitCode) {
    const std::string log =
        "2026-11-29 17:00:00.000 UTC [10] LOG:  checkpoint complete\n"
        "lifeboat: error: repository /srv/x does not exist (create it with `lifeboat "
        "repo-init`)\n"
        "2026-11-29 17:00:01.000 UTC [11] LOG:  archive command failed with exit code 4\n"
        "2026-11-29 17:00:01.000 UTC [11] DETAIL:  The failed archive command was: lifeboat "
        "wal-push pg_wal/000000010000000000000003 --repo /srv/x\n";
    EXPECT_EQ(find_archive_failure(log),
              "lifeboat: error: repository /srv/x does not exist (create it with `lifeboat "
              "repo-init`) (archive command failed with exit code 4)");
}

TEST(FindArchiveFailure, TakesTheNewestFailure) {
    const std::string log =
        "lifeboat: error: first reason\n"
        "LOG:  archive command failed with exit code 1\n"
        "lifeboat: error: second reason\n"
        "LOG:  archive command failed with exit code 2\n";
    EXPECT_EQ(find_archive_failure(log),
              "lifeboat: error: second reason (archive command failed with exit code 2)");
    // A failure without a reason of its own does not borrow the previous one's.
    EXPECT_EQ(find_archive_failure("lifeboat: error: first reason\n"
                                   "LOG:  archive command failed with exit code 1\n"
                                   "sh: 1: lifeboat: not found\n"
                                   "LOG:  archive command failed with exit code 127\n"),
              "archive command failed with exit code 127");
}

TEST(FindArchiveFailure, SkipsLinesOtherSessionsLoggedInBetween) {
    const std::string log =
        "lifeboat: error: cannot write /srv/x/tmp: Permission denied\n"
        "2026-11-29 17:00:01.000 UTC [12] LOG:  restore point \"x\" created at 0/5000090\n"
        "2026-11-29 17:00:01.000 UTC [12] STATEMENT:  SELECT pg_create_restore_point($1)\n"
        "2026-11-29 17:00:01.000 UTC [11] LOG:  archive command failed with exit code 5\n";
    EXPECT_EQ(find_archive_failure(log),
              "lifeboat: error: cannot write /srv/x/tmp: Permission denied (archive command "
              "failed with exit code 5)");
}

TEST(FindArchiveFailure, WithoutTheCommandsOwnLineGivesTheExitCode) {
    EXPECT_EQ(find_archive_failure("archive command failed with exit code 127\n"),
              "archive command failed with exit code 127");
    EXPECT_EQ(find_archive_failure("LOG:  archive command failed with exit code 1\n"
                                   "DETAIL:  The failed archive command was: x\n"
                                   "LOG:  archive command failed with exit code 1\n"),
              "archive command failed with exit code 1");
    EXPECT_EQ(find_archive_failure("LOG:  database system is ready\n"), std::nullopt);
    EXPECT_EQ(find_archive_failure(""), std::nullopt);
}

TEST(ArchiverServer, SwitchesOnAnIdleServerAndReportsTheFailureWithTheLogsReason) {
    if (!pgtest::TestCluster::available()) GTEST_SKIP() << "PostgreSQL 15 is not installed";
    auto cluster = pgtest::TestCluster::init({});
    ASSERT_TRUE(cluster) << cluster.error().message;
    auto& pg = **cluster;
    ASSERT_TRUE(
        pg.append_config("archive_mode = on\n"
                         "archive_command = 'echo \"lifeboat: error: test reason\" >&2; exit 3'\n"
                         "logging_collector = on\nlog_directory = 'log'\nfsync = off\n"));
    auto started = pg.start();
    ASSERT_TRUE(started) << started.error().message << pg.server_log();

    auto conn = Connection::open(pg.conninfo());
    ASSERT_TRUE(conn) << conn.error().message;
    auto settings = archive_settings(*conn);
    ASSERT_TRUE(settings) << settings.error().message;
    EXPECT_EQ(settings->archive_mode, "on");
    EXPECT_FALSE(settings->archive_command.empty());
    EXPECT_EQ(settings->archive_library, "");
    EXPECT_FALSE(settings->in_recovery);

    auto first = switch_wal(*conn, "archiver test");
    ASSERT_TRUE(first) << first.error().message;
    // Nothing was written in between: the restore point still gives the switch something to end.
    auto second = switch_wal(*conn, "archiver test");
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(first->size(), 24u);
    EXPECT_LT(*first, *second);

    std::optional<ArchiverStatus> status;
    for (int i = 0; i < 200; ++i) {
        auto s = archiver_status(*conn);
        ASSERT_TRUE(s) << s.error().message;
        if (s->failed_count > 0) {
            status = *s;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(status) << "the archiver reported no failure within 10 s";
    EXPECT_EQ(status->archived_count, 0u);
    EXPECT_EQ(status->last_archived_wal, "");
    EXPECT_FALSE(status->last_archived_time);
    EXPECT_EQ(status->last_failed_wal, "000000010000000000000001");
    EXPECT_TRUE(status->last_failed_time);

    std::optional<std::string> reason;
    for (int i = 0; i < 100 && !reason; ++i) {  // the logging collector writes asynchronously
        reason = last_archive_failure_in_log(*conn);
        if (!reason) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(reason, "lifeboat: error: test reason (archive command failed with exit code 3)");
}
