// The pure parts of the postgres-logical capture: replication frames and pgoutput facts
// (pgoutput.hpp), cutting the stream into objects (object_cutter.hpp), chains of objects
// (chain.hpp), the log archive over synthetic stored objects (log_archive.hpp), sequence values
// and lag figures.
#include <gtest/gtest.h>

#include "drivers/postgres_logical/capture.hpp"
#include "drivers/postgres_logical/chain.hpp"
#include "drivers/postgres_logical/log_archive.hpp"
#include "drivers/postgres_logical/object_cutter.hpp"
#include "drivers/postgres_logical/pgoutput.hpp"
#include "drivers/postgres_logical/sequence_sampler.hpp"
#include "repository/wal_archive.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

namespace {

void be(std::string& out, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string xid_part(std::optional<std::uint32_t> xid) {
    std::string out;
    if (xid) be(out, *xid, 4);
    return out;
}

std::string begin_message() {
    std::string m = "B";
    m.append(8 + 8 + 4, '\0');
    return m;
}
// A commit ending at `end`, committed `micros` after 2000-01-01.
std::string commit_message(std::uint64_t end, std::int64_t micros = 0) {
    std::string m = "C";
    m.push_back(0);
    be(m, end - 8, 8);
    be(m, end, 8);
    be(m, static_cast<std::uint64_t>(micros), 8);
    return m;
}
std::string stream_commit_message(std::uint32_t xid, std::uint64_t end) {
    std::string m = "c";
    be(m, xid, 4);
    m.push_back(0);
    be(m, end - 8, 8);
    be(m, end, 8);
    be(m, 0, 8);
    return m;
}
std::string relation_message(std::uint32_t relid, std::optional<std::uint32_t> xid = {}) {
    std::string m = "R" + xid_part(xid);
    be(m, relid, 4);
    m += std::string("public\0t\0", 9);
    m.push_back('d');
    be(m, 0, 2);
    return m;
}
std::string insert_message(std::uint32_t relid, std::optional<std::uint32_t> xid = {}) {
    std::string m = "I" + xid_part(xid);
    be(m, relid, 4);
    m.push_back('N');
    be(m, 0, 2);
    return m;
}
std::string stream_start(std::uint32_t xid) {
    std::string m = "S";
    be(m, xid, 4);
    m.push_back(1);
    return m;
}

std::vector<ChangeRecordView> records_of(const CutObject& object) {
    auto records = read_change_log(object.content, object.name);
    EXPECT_TRUE(records) << records.error().message;
    return records ? *records : std::vector<ChangeRecordView>{};
}

}  // namespace

TEST(Pgoutput, FramesParseAndStatusUpdatesHaveTheProtocolsLayout) {
    std::string w = "w";
    be(w, 0x1'0000'0010, 8);
    be(w, 0x1'0000'0020, 8);
    be(w, 0, 8);
    w += "Bxyz";
    auto frame = parse_replication_frame(w);
    ASSERT_TRUE(frame);
    ASSERT_TRUE(frame->data);
    EXPECT_EQ(frame->data->start, 0x1'0000'0010u);
    EXPECT_EQ(frame->data->data, "Bxyz");
    std::string k = "k";
    be(k, 0x42, 8);
    be(k, 0, 8);
    k.push_back(1);
    frame = parse_replication_frame(k);
    ASSERT_TRUE(frame && frame->keepalive);
    EXPECT_EQ(frame->keepalive->wal_end, 0x42u);
    EXPECT_TRUE(frame->keepalive->reply_requested);
    EXPECT_FALSE(parse_replication_frame("k123"));
    EXPECT_FALSE(parse_replication_frame("x"));
    const std::string r = standby_status_update(0xABCD, Timestamp{946'684'800'000'000 + 5});
    ASSERT_EQ(r.size(), 34u);
    EXPECT_EQ(r[0], 'r');
    EXPECT_EQ(static_cast<unsigned char>(r[7]), 0xAB);
    EXPECT_EQ(static_cast<unsigned char>(r[8]), 0xCD);
    EXPECT_EQ(static_cast<unsigned char>(r[32]), 5);  // microseconds since 2000
    EXPECT_EQ(r[33], 0);
}

TEST(Pgoutput, MessageFactsReadCommitsAndRelationsInAndOutsideStreams) {
    auto commit = read_message_facts(commit_message(0x500, 1'000'000), InStream::no);
    ASSERT_TRUE(commit);
    EXPECT_EQ(commit->role, MessageRole::commit);
    EXPECT_EQ(commit->end_lsn, 0x500u);
    EXPECT_EQ(commit->commit_time, from_postgres_time(1'000'000));
    auto streamed = read_message_facts(stream_commit_message(7, 0x600), InStream::no);
    ASSERT_TRUE(streamed);
    EXPECT_EQ(streamed->role, MessageRole::stream_commit);
    EXPECT_EQ(streamed->end_lsn, 0x600u);
    auto insert = read_message_facts(insert_message(1234, 99), InStream::yes);
    ASSERT_TRUE(insert);
    EXPECT_EQ(insert->relations, std::vector<std::uint32_t>{1234});
    std::string truncate = "T";
    be(truncate, 2, 4);
    truncate.push_back(0);
    be(truncate, 10, 4);
    be(truncate, 11, 4);
    auto t = read_message_facts(truncate, InStream::no);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->relations, (std::vector<std::uint32_t>{10, 11}));
    EXPECT_FALSE(read_message_facts("C", InStream::no));
    EXPECT_FALSE(read_message_facts(truncate.substr(0, 8), InStream::no));
    EXPECT_EQ(relation_without_xid(relation_message(5, 77), InStream::yes), relation_message(5));
    EXPECT_EQ(format_lsn_text(0x16'B374D848), "16/B374D848");
    EXPECT_EQ(parse_lsn_text("16/B374D848"), 0x16'B374D848u);
    EXPECT_EQ(parse_lsn_text("0/1b6e220"), 0x1B6E220u);
    EXPECT_FALSE(parse_lsn_text("16B374D848"));
    EXPECT_FALSE(parse_lsn_text("/1"));
}

TEST(ObjectCutter, CutsOnlyAtTransactionBoundariesAndNamesObjectsByTheirCommits) {
    ChangeLogCutter cutter(0x100);
    cutter.start_session(0x100);
    ASSERT_TRUE(cutter.add_message(0x110, begin_message()));
    ASSERT_TRUE(cutter.add_message(0x110, relation_message(1)));
    ASSERT_TRUE(cutter.add_message(0x120, insert_message(1)));
    EXPECT_FALSE(cutter.at_boundary());
    EXPECT_FALSE(cutter.cut()) << "never inside a transaction";
    ASSERT_TRUE(cutter.add_message(0x130, commit_message(0x140, 2'000'000)));
    auto first = cutter.cut();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->name, change_log_object_name(0x100, 0x140));
    EXPECT_EQ(first->commits, 1u);
    EXPECT_EQ(first->last_commit, from_postgres_time(2'000'000));
    auto records = records_of(*first);
    ASSERT_EQ(records.size(), 5u);
    EXPECT_EQ(records[0].kind, ChangeRecordKind::session_start);
    EXPECT_EQ(records[0].lsn, 0x100u);
    EXPECT_EQ(records[1].payload, begin_message()) << "the relation defined here needs no head";
    EXPECT_FALSE(cutter.cut()) << "nothing held";

    // The next object uses relation 1 without defining it: it starts with its head, no X.
    ASSERT_TRUE(cutter.add_message(0x150, begin_message()));
    ASSERT_TRUE(cutter.add_message(0x160, insert_message(1)));
    ASSERT_TRUE(cutter.add_message(0x170, commit_message(0x180, 3'000'000)));
    auto second = cutter.cut();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->start, first->end) << "objects chain";
    EXPECT_EQ(second->name, change_log_object_name(0x140, 0x180));
    records = records_of(*second);
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records[0].kind, ChangeRecordKind::relation);
    EXPECT_EQ(records[0].payload, relation_message(1));
    EXPECT_EQ(records[0].lsn, 0x110u);
    EXPECT_EQ(records[1].kind, ChangeRecordKind::message);
}

TEST(ObjectCutter, StreamedChunksCutAtStreamStopWithUniqueAscendingNames) {
    ChangeLogCutter cutter(0x1000);
    ASSERT_TRUE(cutter.add_message(0x1010, stream_start(9)));
    ASSERT_TRUE(cutter.add_message(0x1010, relation_message(3, 9)));
    ASSERT_TRUE(cutter.add_message(0x1020, insert_message(3, 9)));
    EXPECT_FALSE(cutter.cut()) << "never inside a stream block";
    ASSERT_TRUE(cutter.add_message(0x1030, "E"));
    auto chunk = cutter.cut();
    ASSERT_TRUE(chunk);
    EXPECT_EQ(chunk->commits, 0u);
    EXPECT_EQ(chunk->name, change_log_object_name(0x1000, 0x1001));
    ASSERT_TRUE(cutter.add_message(0x1040, stream_start(9)));
    ASSERT_TRUE(cutter.add_message(0x1050, insert_message(3, 9)));
    ASSERT_TRUE(cutter.add_message(0x1060, "E"));
    ASSERT_TRUE(cutter.add_message(0x1070, stream_commit_message(9, 0x1080)));
    auto done = cutter.cut();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->name, change_log_object_name(0x1001, 0x1080));
    EXPECT_EQ(done->commits, 1u);
    const auto records = records_of(*done);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records[0].kind, ChangeRecordKind::relation);
    EXPECT_EQ(records[0].payload, relation_message(3)) << "heads carry no transaction id";
}

TEST(ObjectCutter, SequenceSamplesAloneWaitForAnIdlePosition) {
    ChangeLogCutter cutter(0x200);
    cutter.add_sequence(0x210, "public\tids\t33\tt");
    EXPECT_TRUE(cutter.holds_anything());
    EXPECT_FALSE(cutter.holds_messages());
    EXPECT_FALSE(cutter.cut());
    EXPECT_FALSE(cutter.cut(0x200));
    auto object = cutter.cut(0x300);
    ASSERT_TRUE(object);
    EXPECT_EQ(object->name, change_log_object_name(0x200, 0x300));
    EXPECT_EQ(cutter.next_start(), 0x300u);
}

TEST(Chain, FollowsFromAPointOrAnObjectCoveringItAndStopsAtAGap) {
    const std::vector<std::string> names = {
        "000000010000000000000001",  // another kind's name: ignored
        change_log_object_name(0x10, 0x20), change_log_object_name(0x20, 0x30),
        change_log_object_name(0x30, 0x40), change_log_object_name(0x50, 0x60)};
    auto run = follow_chain(names, 0x10);
    EXPECT_EQ(run.objects, (std::vector<std::string>{names[1], names[2], names[3]}));
    EXPECT_EQ(run.end, 0x40u);
    EXPECT_TRUE(run.gap);
    run = follow_chain(names, 0x25);  // covered by 20-30
    EXPECT_EQ(run.objects, (std::vector<std::string>{names[2], names[3]}));
    run = follow_chain(names, 0x60);
    EXPECT_TRUE(run.objects.empty());
    EXPECT_EQ(run.end, 0x60u);
    EXPECT_FALSE(run.gap);
    run = follow_chain(names, 0x45);
    EXPECT_TRUE(run.objects.empty());
    EXPECT_TRUE(run.gap);
    EXPECT_EQ(objects_before(names, 0x30), (std::vector<std::string>{names[1], names[2]}));
}

class LogicalArchive : public repo::test_support::ScratchTest {
  protected:
    void store(std::uint64_t start, std::uint64_t end, std::optional<Timestamp> last_commit) {
        ChangeLogWriter writer;
        writer.add(ChangeRecordKind::message, start, begin_message());
        writer.add(ChangeRecordKind::message, start, commit_message(end));
        repo::WalMeta meta;
        meta.name = change_log_object_name(start, end);
        meta.first_commit = last_commit;
        meta.last_commit = last_commit;
        meta.commits = last_commit ? 1 : 0;
        meta.pushed = Timestamp{1'000'000};
        ASSERT_TRUE(repo::push_wal(storage(), meta, writer.take(), 3));
    }
    static repo::Manifest backup(std::string id, std::string stop_lsn, Timestamp stop) {
        repo::Manifest m;
        m.id = std::move(id);
        m.source.kind = std::string(repo::k_kind_postgres_logical);
        m.stop_lsn = std::move(stop_lsn);
        m.start_lsn = m.stop_lsn;
        m.stop_time = stop;
        return m;
    }
    LogicalLogArchive m_archive;
};

TEST_F(LogicalArchive, BackupsReachTheNewestCommitOfTheirChainAndAGapEndsIt) {
    store(0x100, 0x200, Timestamp{10'000'000});
    store(0x200, 0x300, Timestamp{20'000'000});
    store(0x300, 0x380, std::nullopt);  // a streamed chunk: no commit
    store(0x500, 0x600, Timestamp{50'000'000});
    const std::vector<repo::Manifest> manifests = {backup("a", "0/100", Timestamp{5'000'000}),
                                                   backup("b", "0/500", Timestamp{45'000'000})};
    auto window = m_archive.follow(storage(), manifests);
    ASSERT_TRUE(window) << window.error().message;
    ASSERT_EQ(window->backups.size(), 2u);
    const auto& a = window->backups[0];
    EXPECT_TRUE(a.consistent);
    ASSERT_TRUE(a.to);
    EXPECT_EQ(*a.to, Timestamp{20'000'000}) << "the newest commit of the gap-free run";
    EXPECT_EQ(a.last_segment, change_log_object_name(0x300, 0x380));
    EXPECT_EQ(a.last_commit_segment, change_log_object_name(0x200, 0x300));
    EXPECT_TRUE(a.gap);
    EXPECT_EQ(a.first_missing_segment, "logical/0000000000000380-");
    const auto& b = window->backups[1];
    ASSERT_TRUE(b.to);
    EXPECT_EQ(*b.to, Timestamp{50'000'000});
    EXPECT_FALSE(b.gap);
    EXPECT_EQ(window->wal_files, 4u);

    const auto archived = repo::list_wal_names(storage()).value();
    EXPECT_EQ(m_archive.objects_for(manifests[0], a, archived),
              (std::vector<std::string>{change_log_object_name(0x100, 0x200),
                                        change_log_object_name(0x200, 0x300),
                                        change_log_object_name(0x300, 0x380)}));
    EXPECT_EQ(m_archive.objects_for(manifests[1], b, archived),
              std::vector<std::string>{change_log_object_name(0x500, 0x600)});
    auto removable = m_archive.removable(archived, {&manifests[1]}, manifests[1]);
    ASSERT_TRUE(removable);
    EXPECT_EQ(removable->size(), 3u) << "everything before the kept backup's point";
    removable = m_archive.removable(archived, {&manifests[0], &manifests[1]}, manifests[1]);
    ASSERT_TRUE(removable);
    EXPECT_TRUE(removable->empty());
    auto stop = m_archive.stop_position_at_end(storage(), a);
    ASSERT_TRUE(stop);
    EXPECT_EQ(*stop, std::optional<std::string>("0/300"));
}

TEST_F(LogicalArchive, CheckObjectRefusesOtherNamesAndCommitsOutsideTheSpan) {
    ChangeLogWriter writer;
    writer.add(ChangeRecordKind::message, 0x100, commit_message(0x180));
    const std::string content = writer.take();
    EXPECT_TRUE(m_archive.check_object(storage(), change_log_object_name(0x100, 0x180), content));
    auto outside = m_archive.check_object(storage(), change_log_object_name(0x100, 0x170), content);
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().code, ErrorCode::corrupt);
    auto cut = m_archive.check_object(storage(), change_log_object_name(0x100, 0x180),
                                      content.substr(0, content.size() - 1));
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().code, ErrorCode::corrupt);
    auto wal = m_archive.check_object(storage(), "000000010000000000000001", content);
    ASSERT_FALSE(wal);
    EXPECT_EQ(wal.error().code, ErrorCode::usage);
}

TEST(LogicalCapture, LagFiguresAndRecoveredSequenceValues) {
    std::vector<double> lags;
    for (int i = 1; i <= 100; ++i)
        lags.push_back(i / 100.0);
    const LagFigures figures = lag_figures(lags);
    EXPECT_EQ(figures.commits, 100u);
    EXPECT_DOUBLE_EQ(figures.p50, 0.50);
    EXPECT_DOUBLE_EQ(figures.p99, 0.99);
    EXPECT_DOUBLE_EQ(figures.max, 1.00);
    EXPECT_EQ(lag_figures({}).commits, 0u);
    EXPECT_EQ(recovered_sequence_value({10, 32, 1, true}), 42);
    EXPECT_EQ(recovered_sequence_value({10, 3, -2, true}), 4);
    EXPECT_EQ(recovered_sequence_value({1, 0, 1, false}), 1);
    EXPECT_EQ(recovered_sequence_value({INT64_MAX - 1, 32, 1, true}), INT64_MAX);
}
