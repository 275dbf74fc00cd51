// The mongodb change log (drivers/mongodb/change_log.hpp) and its archive (log_archive.hpp):
// framing, names, resume-token positions, chains with gaps, windows, removal and checks.
#include <gtest/gtest.h>

#include "drivers/mongodb/change_log.hpp"
#include "drivers/mongodb/log_archive.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"
#include "sources/mongodb/bson.hpp"

namespace lifeboat {
namespace {

using namespace mongodb_driver;

constexpr std::uint64_t at(std::uint32_t seconds, std::uint32_t increment = 1) {
    return (static_cast<std::uint64_t>(seconds) << 32) | increment;
}

std::string events_name(std::uint64_t start, std::uint64_t end) {
    return change_log_object_name({start, end, SpanKind::events});
}

std::string gap_name(std::uint64_t start) {
    return change_log_object_name({start, start, SpanKind::gap});
}

// A MongoDB 4.2+ resume token at `position`.
std::string token_at(std::uint64_t position) {
    return fmt::format(R"({{"_data": "82{:016X}2B022C0100296E5A1004"}})", position);
}

std::string event_bson(std::uint32_t seconds) {
    auto doc = mongodb::Bson::from_json(fmt::format(
        R"({{"_id": {{"_data": "82{:016X}"}}, "operationType": "insert",
            "clusterTime": {{"$timestamp": {{"t": {}, "i": 1}}}},
            "ns": {{"db": "shop", "coll": "orders"}}, "documentKey": {{"_id": 1}}}})",
        at(seconds), seconds));
    return std::string(doc.value().bytes());
}

TEST(MongoChangeLog, RecordsRoundTripAndDamageIsCorrupt) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::session_start, at(100), 0, token_at(at(100)));
    writer.add(ChangeRecordKind::event, at(101), 101'000, event_bson(101));
    writer.add(ChangeRecordKind::resume_token, at(101), 0, R"({"_data": "x"})");
    EXPECT_EQ(writer.records(), 3u);
    const std::string content = writer.take();
    EXPECT_EQ(writer.records(), 0u);
    EXPECT_TRUE(content.starts_with("LBMC\x01"));
    auto records = read_change_log(content, "o");
    ASSERT_TRUE(records) << records.error().message;
    ASSERT_EQ(records->size(), 3u);
    EXPECT_EQ((*records)[1].kind, ChangeRecordKind::event);
    EXPECT_EQ((*records)[1].cluster_time, at(101));
    EXPECT_EQ((*records)[1].wall_ms, 101'000);
    EXPECT_EQ((*records)[2].payload, R"({"_data": "x"})");
    auto cut = read_change_log(content.substr(0, content.size() - 1), "o");
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().code, ErrorCode::corrupt);
    std::string other = content;
    other[0] = 'X';
    EXPECT_FALSE(read_change_log(other, "o"));
    std::string version = content;
    version[4] = 2;
    EXPECT_FALSE(read_change_log(version, "o"));
}

TEST(MongoChangeLog, NamesSortInStreamOrderAndParseBack) {
    EXPECT_EQ(events_name(at(0x10), at(0x20)), "changes/0000001000000001-0000002000000001");
    EXPECT_EQ(gap_name(at(0x10)), "changes/0000001000000001-0000001000000001.gap");
    EXPECT_LT(events_name(at(9), at(10)), events_name(at(10), at(11)));
    const auto span = parse_change_log_object_name(events_name(at(5), at(7)));
    ASSERT_TRUE(span);
    EXPECT_EQ(span->start, at(5));
    EXPECT_EQ(span->end, at(7));
    EXPECT_EQ(span->kind, SpanKind::events);
    EXPECT_EQ(parse_change_log_object_name(gap_name(at(5)))->kind, SpanKind::gap);
    EXPECT_FALSE(parse_change_log_object_name("changes/0000000700000001-0000000500000001"));
    EXPECT_FALSE(parse_change_log_object_name("changes/0000000500000001-0000000700000001.gap"));
    EXPECT_FALSE(parse_change_log_object_name("changes/000000050000000a-0000000700000001"));
    EXPECT_FALSE(parse_change_log_object_name("logical/0000000500000001-0000000700000001"));
    EXPECT_FALSE(parse_change_log_object_name("000000010000000000000001"));
    EXPECT_EQ(format_cluster_time(at(1764475200, 3)), "1764475200.3");
    EXPECT_EQ(event_time(at(100), 0), Timestamp{100'000'000});
    EXPECT_EQ(event_time(at(100), 100'250), Timestamp{100'250'000});
    EXPECT_EQ(event_time(at(100), INT64_MAX / 10), Timestamp{INT64_MAX});  // damaged wall time
}

TEST(MongoChangeLog, ResumeTokensOfMongoDb42AndLaterTellTheirClusterTime) {
    EXPECT_EQ(resume_token_position(token_at(at(1764475200, 7))), at(1764475200, 7));
    EXPECT_EQ(resume_token_position(R"({"_data": "8269290f4000000001"})"),
              std::optional<std::uint64_t>((std::uint64_t{0x69290f40} << 32) | 1));
    EXPECT_FALSE(resume_token_position(R"({"_data": "0100"})"));
    EXPECT_FALSE(resume_token_position(R"({"_id": 1})"));
    EXPECT_FALSE(resume_token_position("not json"));
}

TEST(MongoChangeLog, ChainsFollowCoverPointObjectsAndStopAtGapsAndHoles) {
    const std::vector<std::string> names = {events_name(at(10), at(20)),
                                            events_name(at(20), at(20)),
                                            events_name(at(20), at(30)),
                                            events_name(at(30), at(40)),
                                            gap_name(at(40)),
                                            events_name(at(50), at(60)),
                                            "logical/0000000000000100-0000000000000200"};
    ChainRun run = follow_chain(names, at(10));
    EXPECT_EQ(run.objects,
              (std::vector<std::string>{events_name(at(10), at(20)), events_name(at(20), at(20)),
                                        events_name(at(20), at(30)), events_name(at(30), at(40)),
                                        gap_name(at(40))}));
    EXPECT_TRUE(run.lost);
    EXPECT_EQ(run.end, at(40));
    run = follow_chain(names, at(25));  // covered by 20-30
    ASSERT_EQ(run.objects.size(), 3u);
    EXPECT_EQ(run.objects.front(), events_name(at(20), at(30)));
    run = follow_chain(names, at(45));  // nothing at or covering it: objects after it are a hole
    EXPECT_TRUE(run.objects.empty());
    EXPECT_TRUE(run.hole);
    EXPECT_FALSE(run.lost);
    run = follow_chain(names, at(50));
    EXPECT_EQ(run.objects, std::vector<std::string>{events_name(at(50), at(60))});
    EXPECT_FALSE(run.hole);
    EXPECT_EQ(run.end, at(60));
}

class MongoArchive : public repo::test_support::ScratchTest {
  protected:
    void store(std::uint64_t start, std::uint64_t end, std::optional<Timestamp> last) {
        ChangeLogWriter writer;
        writer.add(ChangeRecordKind::event, end, 0,
                   event_bson(static_cast<std::uint32_t>(end >> 32)));
        writer.add(ChangeRecordKind::resume_token, end, 0, token_at(end));
        repo::WalMeta meta;
        meta.name = events_name(start, end);
        meta.first_commit = last;
        meta.last_commit = last;
        meta.commits = 1;
        meta.pushed = Timestamp{1'000'000};
        ASSERT_TRUE(repo::push_wal(storage(), meta, writer.take(), 3));
    }
    void store_gap(std::uint64_t start) {
        ChangeLogWriter writer;
        writer.add(ChangeRecordKind::gap, start, 0, "history lost");
        repo::WalMeta meta;
        meta.name = gap_name(start);
        meta.pushed = Timestamp{1'000'000};
        ASSERT_TRUE(repo::push_wal(storage(), meta, writer.take(), 3));
    }
    static repo::Manifest backup(std::string id, std::uint64_t start, Timestamp stop) {
        repo::Manifest m;
        m.id = std::move(id);
        m.source.kind = std::string(repo::k_kind_mongodb);
        m.mongodb.resume_token_start = token_at(start);
        m.start_time = stop;
        m.stop_time = stop;
        return m;
    }
    MongoLogArchive m_archive;
};

TEST_F(MongoArchive, BackupsReachTheNewestEventOfTheirChainAndAGapIsShown) {
    store(at(10), at(20), Timestamp{20'000'000});
    store(at(20), at(30), Timestamp{30'000'000});
    store_gap(at(30));
    store(at(50), at(60), Timestamp{60'000'000});
    repo::Manifest none = backup("c", at(5), Timestamp{5'000'000});
    none.mongodb.resume_token_start.clear();  // a server without change streams
    const std::vector<repo::Manifest> manifests = {backup("a", at(10), Timestamp{15'000'000}),
                                                   backup("b", at(50), Timestamp{55'000'000}),
                                                   none};
    auto window = m_archive.follow(storage(), manifests);
    ASSERT_TRUE(window) << window.error().message;
    ASSERT_EQ(window->backups.size(), 3u);
    const auto& a = window->backups[0];
    EXPECT_TRUE(a.consistent);
    EXPECT_EQ(a.from, Timestamp{15'000'000});
    ASSERT_TRUE(a.to);
    EXPECT_EQ(*a.to, Timestamp{30'000'000});
    EXPECT_EQ(a.last_commit_segment, events_name(at(20), at(30)));
    EXPECT_TRUE(a.gap);
    EXPECT_EQ(a.first_missing_segment, gap_name(at(30)));
    const auto& b = window->backups[1];
    ASSERT_TRUE(b.to);
    EXPECT_EQ(*b.to, Timestamp{60'000'000});
    EXPECT_FALSE(b.gap);
    EXPECT_FALSE(window->backups[2].to);
    EXPECT_EQ(window->wal_files, 4u);

    const auto archived = repo::list_wal_names(storage()).value();
    EXPECT_EQ(m_archive.objects_for(manifests[0], a, archived),
              (std::vector<std::string>{events_name(at(10), at(20)), events_name(at(20), at(30)),
                                        gap_name(at(30))}));
    EXPECT_EQ(m_archive.objects_for(manifests[1], b, archived),
              std::vector<std::string>{events_name(at(50), at(60))});
    auto removable = m_archive.removable(archived, {&manifests[1]}, manifests[1]);
    ASSERT_TRUE(removable);
    EXPECT_EQ(removable->size(), 3u) << "everything before the kept backup's start point";
    removable = m_archive.removable(archived, {&manifests[0], &manifests[1]}, manifests[1]);
    ASSERT_TRUE(removable);
    EXPECT_TRUE(removable->empty());
}

TEST_F(MongoArchive, CheckObjectRefusesOtherNamesEventsOutsideTheSpanAndEmptyGaps) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::event, at(15), 0, event_bson(15));
    const std::string content = writer.take();
    EXPECT_TRUE(m_archive.check_object(storage(), events_name(at(10), at(15)), content));
    auto outside = m_archive.check_object(storage(), events_name(at(10), at(14)), content);
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().code, ErrorCode::corrupt);
    auto cut = m_archive.check_object(storage(), events_name(at(10), at(15)),
                                      content.substr(0, content.size() - 1));
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().code, ErrorCode::corrupt);
    auto not_bson = [&] {
        ChangeLogWriter w;
        w.add(ChangeRecordKind::event, at(15), 0, "garbage!");
        return w.take();
    }();
    EXPECT_FALSE(m_archive.check_object(storage(), events_name(at(10), at(15)), not_bson));
    auto empty_gap = m_archive.check_object(storage(), gap_name(at(10)), ChangeLogWriter().take());
    ASSERT_FALSE(empty_gap);
    EXPECT_EQ(empty_gap.error().code, ErrorCode::corrupt);
    auto wal = m_archive.check_object(storage(), "000000010000000000000001", content);
    ASSERT_FALSE(wal);
    EXPECT_EQ(wal.error().code, ErrorCode::usage);
}

}  // namespace
}  // namespace lifeboat
