// scan_commit_times and WAL file names against a real PostgreSQL 15 server (skipped when the
// binaries are absent): exact commit times via track_commit_timestamp, counts via pg_waldump.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "postgres_test_cluster.hpp"
#include "sources/postgres/wal.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres;

namespace {

constexpr std::uint64_t k_test_segment_size = 1 << 20;  // initdb --wal-segsize=1: more boundaries

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string::npos ? end : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return lines;
}

}  // namespace

class WalScanServer : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!pgtest::TestCluster::available()) return;
        auto cluster = pgtest::TestCluster::init({"--wal-segsize=1"});
        ASSERT_TRUE(cluster) << cluster.error().message;
        s_cluster = cluster->release();
        auto archive = s_cluster->make_directory("archive");
        ASSERT_TRUE(archive) << archive.error().message;
        ASSERT_TRUE(s_cluster->append_config(
            fmt::format("archive_mode = on\narchive_command = 'cp %p {}/%f'\n"
                        "track_commit_timestamp = on\nautovacuum = off\nfsync = off\n",
                        archive->string())));
        auto started = s_cluster->start();
        ASSERT_TRUE(started) << started.error().message << s_cluster->server_log();
    }
    static void TearDownTestSuite() {
        if (s_cluster) (void)s_cluster->stop();  // pg_ctl -m immediate stop
        delete s_cluster;
        s_cluster = nullptr;
    }
    void SetUp() override {
        if (!pgtest::TestCluster::available()) GTEST_SKIP() << "PostgreSQL 15 is not installed";
        ASSERT_NE(s_cluster, nullptr);
    }

    static std::string sql(const std::string& statement) {
        auto out = s_cluster->psql(statement);
        EXPECT_TRUE(out) << statement << ": " << out.error().message;
        return out ? pgtest::trimmed(*out) : std::string();
    }

    // Switches to a new segment; returns the completed one once it is archived.
    static std::string switch_and_archive() {
        const std::string name = sql("SELECT pg_walfile_name(pg_switch_wal())");
        const fs::path done =
            s_cluster->data_dir() / "pg_wal" / "archive_status" / (name + ".done");
        for (int i = 0; i < 300 && !fs::exists(done); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        EXPECT_TRUE(fs::exists(done)) << name << " was not archived";
        return name;
    }

    static std::string archived(const std::string& name) {
        auto bytes = read_file(s_cluster->root() / "archive" / name);
        EXPECT_TRUE(bytes) << bytes.error().message;
        return bytes ? *bytes : std::string();
    }

    // Transaction end records pg_waldump finds starting in `name`.
    static std::size_t waldump_transaction_ends(const std::string& name) {
        auto out = s_cluster->run({s_cluster->bin("pg_waldump"), "-p",
                                   (s_cluster->root() / "archive").string(), "-r", "Transaction",
                                   name, name});
        EXPECT_TRUE(out);
        std::size_t count = 0;
        for (const auto& line : lines_of(out ? out->output : "")) {
            if (line.find("desc: COMMIT") != std::string::npos ||
                line.find("desc: ABORT") != std::string::npos) {
                ++count;
            }
        }
        return count;
    }

    static pgtest::TestCluster* s_cluster;
};
pgtest::TestCluster* WalScanServer::s_cluster = nullptr;

TEST_F(WalScanServer, CommitTimesMatchTheServer) {
    sql("CREATE TABLE t (id serial PRIMARY KEY, started timestamptz, pad text)");
    sql("CHECKPOINT");  // the inserts below then log full-page images: records span pages
    switch_and_archive();

    const std::string insert =
        "INSERT INTO t (started, pad) SELECT now(), string_agg(md5(random()::text), '') "
        "FROM generate_series(1, 150)";
    for (int i = 0; i < 3; ++i)
        sql(insert);
    sql("BEGIN; " + insert + "; ROLLBACK;");  // an abort record
    sql("BEGIN; " + insert + "; " + insert + "; COMMIT;");
    sql(insert);
    const std::string name = switch_and_archive();

    // Exact commit times as the server recorded them, and the transaction start times.
    const auto rows =
        lines_of(sql("SELECT (extract(epoch FROM started) * 1000000)::bigint, "
                     "(extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000000)::bigint "
                     "FROM t ORDER BY id"));
    ASSERT_EQ(rows.size(), 6u);
    std::vector<Timestamp> started, committed;
    for (const auto& row : rows) {
        const auto bar = row.find('|');
        ASSERT_NE(bar, std::string::npos) << row;
        started.push_back(Timestamp{std::stoll(row.substr(0, bar))});
        committed.push_back(Timestamp{std::stoll(row.substr(bar + 1))});
    }

    const std::string bytes = archived(name);
    ASSERT_EQ(bytes.size(), k_test_segment_size);
    auto span = scan_commit_times(bytes);
    ASSERT_TRUE(span) << span.error().message;
    EXPECT_EQ(span->commits, 6u);  // five commits, one abort
    EXPECT_EQ(span->commits, waldump_transaction_ends(name));
    ASSERT_TRUE(span->first_commit && span->last_commit);
    EXPECT_EQ(*span->first_commit, committed.front());
    EXPECT_EQ(*span->last_commit, committed.back());
    constexpr std::int64_t five_seconds = 5'000'000;
    EXPECT_GE(span->first_commit->micros, started.front().micros);
    EXPECT_LE(span->first_commit->micros, started.front().micros + five_seconds);
    EXPECT_GE(span->last_commit->micros, started.back().micros);
    EXPECT_LE(span->last_commit->micros, started.back().micros + five_seconds);

    // The file name agrees with the server's idea of where its WAL is.
    const auto segment = parse_wal_file_name(name, k_test_segment_size);
    ASSERT_TRUE(segment);
    EXPECT_EQ(wal_file_name(*segment, k_test_segment_size), name);

    // The incremental walk (wal-stream: one call per flush over a growing, zero-filled prefix,
    // cut anywhere, in the middle of records too) ends with the whole walk's span.
    ASSERT_TRUE(span->valid_end);
    {
        WalCommitSpan so_far;
        std::string prefix(bytes.size(), '\0');
        const std::size_t used = static_cast<std::size_t>(*span->valid_end);
        for (std::size_t cut = 997; cut < used + 997; cut += 997) {
            const std::size_t upto = std::min(cut, bytes.size());
            prefix.replace(0, upto, bytes, 0, upto);
            auto step = scan_commit_times_from(prefix, so_far);
            ASSERT_TRUE(step) << step.error().message;
            so_far = *step;
        }
        EXPECT_EQ(so_far.commits, span->commits);
        EXPECT_EQ(so_far.first_commit, span->first_commit);
        EXPECT_EQ(so_far.last_commit, span->last_commit);
        EXPECT_EQ(so_far.valid_end, span->valid_end);
        ASSERT_TRUE(so_far.last_end && span->last_end);
        EXPECT_EQ(so_far.last_end->value, span->last_end->value);
    }

    // Damaged copies: an error or a shorter span, never a crash.
    EXPECT_FALSE(scan_commit_times(std::string_view(bytes).substr(0, bytes.size() - 8192)));
    std::mt19937_64 random(7);
    for (int round = 0; round < 30; ++round) {
        std::string damaged = bytes;
        for (int i = 0; i < 20; ++i) {
            damaged[random() % damaged.size()] ^= static_cast<char>(1 + random() % 255);
        }
        auto result = scan_commit_times(damaged);
        if (result) {
            EXPECT_LE(result->commits, 6u);
        }
    }
}

TEST_F(WalScanServer, AgreesWithPgWaldumpAcrossSegments) {
    const std::string before = switch_and_archive();
    sql("CREATE TABLE big (id int, pad text)");
    sql("INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text || s || g), '') "
        "FROM generate_series(1, 30) s) FROM generate_series(1, 2000) g");
    sql("CHECKPOINT");
    sql("DO $$ BEGIN FOR i IN 0..19 LOOP UPDATE big SET id = -id WHERE id % 20 = i; COMMIT; "
        "END LOOP; END $$");
    const std::string last = switch_and_archive();

    const auto first_segment = parse_wal_file_name(before, k_test_segment_size);
    const auto last_segment = parse_wal_file_name(last, k_test_segment_size);
    ASSERT_TRUE(first_segment && last_segment);
    ASSERT_GE(last_segment->segno - first_segment->segno, 3u);
    std::uint64_t total = 0;
    std::size_t continued = 0;
    for (auto segno = first_segment->segno + 1; segno <= last_segment->segno; ++segno) {
        const std::string name = wal_file_name({1, segno}, k_test_segment_size);
        const std::string bytes = archived(name);
        if ((bytes[2] & 0x01) != 0) ++continued;  // starts with a continuation
        auto span = scan_commit_times(bytes);
        ASSERT_TRUE(span) << name << ": " << span.error().message;
        EXPECT_EQ(span->commits, waldump_transaction_ends(name)) << name;
        total += span->commits;
    }
    EXPECT_EQ(total, 22u);  // CREATE TABLE, INSERT, 20 updates
    EXPECT_GT(continued, 0u);
}
