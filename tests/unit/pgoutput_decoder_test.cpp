// The pgoutput decoder (drivers/postgres_logical/pgoutput_decoder.hpp) over hand-built protocol
// version 2 messages, the SQL built per change (change_sql.hpp), the choice of sequence samples
// (change_apply.hpp), the chain of objects after a backup (chain.hpp), the cut of a
// schema dump for --only (dump_filter.hpp), and the physical target refusing --target-pg/--only.
#include <gtest/gtest.h>

#include "drivers/postgres_logical/chain.hpp"
#include "drivers/postgres_logical/change_apply.hpp"
#include "drivers/postgres_logical/change_sql.hpp"
#include "drivers/postgres_logical/dump_filter.hpp"
#include "drivers/postgres_logical/pgoutput_decoder.hpp"
#include "drivers/postgres_physical/restore_target.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

namespace {

// Builds one pgoutput message.
class Msg {
  public:
    explicit Msg(char type) { m_bytes.push_back(type); }
    Msg& u8(std::uint8_t v) { return be(v, 1); }
    Msg& u16(std::uint16_t v) { return be(v, 2); }
    Msg& u32(std::uint32_t v) { return be(v, 4); }
    Msg& u64(std::uint64_t v) { return be(v, 8); }
    Msg& str(std::string_view s) {
        m_bytes += s;
        m_bytes.push_back('\0');
        return *this;
    }
    Msg& raw(std::string_view s) {
        m_bytes += s;
        return *this;
    }
    // TupleData: 'n' null, 'u' unchanged TOAST, anything else a text value.
    Msg& tuple(std::vector<std::string> values) {
        u16(static_cast<std::uint16_t>(values.size()));
        for (const auto& v : values) {
            if (v == "n" || v == "u") {
                m_bytes += v;
            } else {
                m_bytes += 't';
                u32(static_cast<std::uint32_t>(v.size()));
                m_bytes += v;
            }
        }
        return *this;
    }
    std::string bytes() const { return m_bytes; }

  private:
    Msg& be(std::uint64_t v, int width) {
        for (int i = width - 1; i >= 0; --i)
            m_bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
        return *this;
    }
    std::string m_bytes;
};

constexpr std::uint64_t k_ts = 1000000;  // 2000-01-01T00:00:01Z in PostgreSQL's epoch

std::string relation(std::uint32_t oid, std::string_view name, bool streamed = false,
                     std::uint32_t xid = 0) {
    Msg m('R');
    if (streamed) m.u32(xid);
    m.u32(oid).str("public").str(name).u8('d').u16(3);
    m.u8(1).str("id").u32(23).u32(0xFFFFFFFF);
    m.u8(0).str("name").u32(25).u32(0xFFFFFFFF);
    m.u8(0).str("body").u32(25).u32(0xFFFFFFFF);
    return m.bytes();
}
std::string begin(std::uint32_t xid, std::uint64_t lsn, std::uint64_t ts = k_ts) {
    return Msg('B').u64(lsn).u64(ts).u32(xid).bytes();
}
std::string commit(std::uint64_t lsn, std::uint64_t end, std::uint64_t ts = k_ts) {
    return Msg('C').u8(0).u64(lsn).u64(end).u64(ts).bytes();
}

struct Feed {
    PgoutputDecoder decoder;
    std::uint64_t lsn = 100;
    Status add(const std::string& message) {
        return decoder.add({ChangeRecordKind::message, lsn++, message}, "logical/test");
    }
    void ok(const std::string& message) {
        auto added = add(message);
        ASSERT_TRUE(added) << added.error().message;
    }
};

}  // namespace

TEST(PgoutputDecoder, DamagedCommitTimeSaturates) {
    // A fuzzer found a commit time near 2^63 overflowing the epoch shift (undefined behaviour).
    Feed f;
    f.ok(begin(701, 0x600, 0x7FFFC8B0A0000000ULL));
    f.ok(commit(0x600, 0x628, 0x7FFFC8B0A0000000ULL));
    const auto done = f.decoder.take_committed();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].commit_time.micros, INT64_MAX);
}

TEST(PgoutputDecoder, PlainTransactionWithEveryKindOfChange) {
    Feed f;
    f.ok(relation(16384, "t"));
    f.ok(Msg('O').u64(5).str("origin").bytes());
    f.ok(Msg('Y').u32(99).str("public").str("mytype").bytes());
    f.ok(begin(700, 0x500, k_ts));
    f.ok(Msg('I').u32(16384).u8('N').tuple({"1", "one", "n"}).bytes());
    f.ok(Msg('U').u32(16384).u8('N').tuple({"1", "uno", "u"}).bytes());
    f.ok(Msg('U')
             .u32(16384)
             .u8('K')
             .tuple({"1", "n", "n"})
             .u8('N')
             .tuple({"2", "dos", "u"})
             .bytes());
    f.ok(Msg('D').u32(16384).u8('K').tuple({"2", "n", "n"}).bytes());
    f.ok(Msg('T').u32(1).u8(3).u32(16384).bytes());
    f.ok(Msg('M').u8(1).u64(0x501).str("lifeboat.ddl").u32(9).raw("ALTER ...").bytes());
    f.ok(Msg('M').u8(1).u64(0x502).str("other").u32(1).raw("x").bytes());
    EXPECT_TRUE(f.decoder.take_committed().empty());
    f.ok(commit(0x500, 0x528, k_ts + 5));
    const auto done = f.decoder.take_committed();
    ASSERT_EQ(done.size(), 1u);
    const Transaction& t = done[0];
    EXPECT_EQ(t.xid, 700u);
    EXPECT_EQ(t.commit_lsn, 0x500u);
    EXPECT_EQ(t.end_lsn, 0x528u);
    EXPECT_EQ(t.commit_time.micros,
              k_postgres_epoch_offset_micros + static_cast<std::int64_t>(k_ts) + 5);
    ASSERT_EQ(t.changes.size(), 6u);
    EXPECT_EQ(t.changes[0].action, ChangeAction::insert);
    EXPECT_EQ(t.changes[0].new_values[2].kind, ValueKind::null);
    EXPECT_EQ(t.changes[1].new_values[2].kind, ValueKind::unchanged_toast);
    EXPECT_EQ(t.changes[1].old_kind, OldTuple::none);
    EXPECT_EQ(t.changes[2].old_kind, OldTuple::key);
    EXPECT_EQ(t.changes[2].old_values[0].text, "1");
    EXPECT_EQ(t.changes[3].action, ChangeAction::remove);
    EXPECT_EQ(t.changes[4].action, ChangeAction::truncate);
    EXPECT_EQ(t.changes[4].truncate_options, 3);
    EXPECT_EQ(t.changes[5].action, ChangeAction::ddl);
    EXPECT_EQ(t.changes[5].ddl, "ALTER ...");
}

TEST(PgoutputDecoder, StreamedTransactionsAssembleByXidAndDropAbortedSubtransactions) {
    Feed f;
    f.ok(Msg('S').u32(900).u8(1).bytes());
    f.ok(relation(16384, "t", true, 900));
    f.ok(Msg('I').u32(900).u32(16384).u8('N').tuple({"1", "a", "n"}).bytes());
    f.ok(Msg('I').u32(901).u32(16384).u8('N').tuple({"2", "sub", "n"}).bytes());
    f.ok(Msg('E').bytes());
    f.ok(begin(800, 0x600));  // another transaction commits between the stream blocks
    f.ok(Msg('I').u32(16384).u8('N').tuple({"9", "plain", "n"}).bytes());
    f.ok(commit(0x600, 0x610));
    f.ok(Msg('S').u32(950).u8(1).bytes());  // a transaction that aborts entirely
    f.ok(Msg('I').u32(950).u32(16384).u8('N').tuple({"5", "gone", "n"}).bytes());
    f.ok(Msg('E').bytes());
    f.ok(Msg('S').u32(900).u8(0).bytes());
    f.ok(Msg('I').u32(902).u32(16384).u8('N').tuple({"3", "kept", "n"}).bytes());
    f.ok(Msg('E').bytes());
    f.ok(Msg('A').u32(901).u32(901).bytes());  // unknown top-level: nothing happens
    f.ok(Msg('A').u32(900).u32(901).bytes());  // subtransaction 901 rolled back
    f.ok(Msg('A').u32(950).u32(950).bytes());
    EXPECT_EQ(f.decoder.unfinished(), 1u);
    f.ok(Msg('c').u32(900).u8(0).u64(0x700).u64(0x710).u64(k_ts).bytes());
    const auto done = f.decoder.take_committed();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].xid, 800u);
    EXPECT_EQ(done[1].xid, 900u);
    EXPECT_EQ(done[1].commit_lsn, 0x700u);
    ASSERT_EQ(done[1].changes.size(), 2u);
    EXPECT_EQ(done[1].changes[0].new_values[1].text, "a");
    EXPECT_EQ(done[1].changes[1].new_values[1].text, "kept");
    EXPECT_EQ(f.decoder.unfinished(), 0u);
}

TEST(PgoutputDecoder, SessionStartDropsWhatIsUnfinished) {
    Feed f;
    f.ok(relation(16384, "t"));
    f.ok(Msg('S').u32(900).u8(1).bytes());
    f.ok(Msg('I').u32(900).u32(16384).u8('N').tuple({"1", "first try", "n"}).bytes());
    f.ok(Msg('E').bytes());
    f.ok(begin(901, 0x800));
    f.ok(Msg('I').u32(16384).u8('N').tuple({"2", "cut off", "n"}).bytes());
    ASSERT_TRUE(f.decoder.add({ChangeRecordKind::session_start, 0x400, ""}, "logical/test"));
    EXPECT_EQ(f.decoder.unfinished(), 0u);
    // The server sends the streamed transaction again from its start.
    f.ok(Msg('S').u32(900).u8(1).bytes());
    f.ok(Msg('I').u32(900).u32(16384).u8('N').tuple({"1", "again", "n"}).bytes());
    f.ok(Msg('E').bytes());
    f.ok(Msg('c').u32(900).u8(0).u64(0x900).u64(0x910).u64(k_ts).bytes());
    const auto done = f.decoder.take_committed();
    ASSERT_EQ(done.size(), 1u);
    ASSERT_EQ(done[0].changes.size(), 1u);
    EXPECT_EQ(done[0].changes[0].new_values[1].text, "again");
}

TEST(PgoutputDecoder, ChangesKeepTheRelationDefinitionOfTheirTime) {
    Feed f;
    f.ok(relation(16384, "t"));
    f.ok(begin(1, 0x10));
    f.ok(Msg('I').u32(16384).u8('N').tuple({"1", "a", "n"}).bytes());
    f.ok(Msg('R')
             .u32(16384)
             .str("public")
             .str("t")
             .u8('d')
             .u16(1)
             .u8(1)
             .str("id")
             .u32(23)
             .u32(0xFFFFFFFF)
             .bytes());
    f.ok(Msg('I').u32(16384).u8('N').tuple({"2"}).bytes());
    f.ok(commit(0x10, 0x20));
    const auto done = f.decoder.take_committed();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].changes[0].relation->columns.size(), 3u);
    EXPECT_EQ(done[0].changes[1].relation->columns.size(), 1u);
}

TEST(PgoutputDecoder, SequenceSamplesAndRelationRecords) {
    PgoutputDecoder d;
    ASSERT_TRUE(d.add({ChangeRecordKind::relation, 1, relation(1, "t")}, "o"));
    ASSERT_TRUE(d.add({ChangeRecordKind::sequence, 77, "public\tids\t42\tt"}, "o"));
    ASSERT_EQ(d.sequences().size(), 1u);
    EXPECT_EQ(d.sequences()[0].last_value, "42");
    EXPECT_TRUE(d.sequences()[0].is_called);
    EXPECT_EQ(d.sequences()[0].lsn, 77u);
    for (std::string_view bad : {"public\tids\t42", "public\tids\tx\tt", "a\tb\t1\tyes"}) {
        auto r = d.add({ChangeRecordKind::sequence, 1, bad}, "logical/o");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::corrupt);
    }
}

TEST(PgoutputDecoder, DamageIsCorruptNamingTheObject) {
    const std::vector<std::string> bad = {
        "",
        "Z",
        begin(1, 2).substr(0, 10),
        begin(1, 2) + "x",
        Msg('I').u32(16384).u8('N').tuple({"1", "a", "n"}).bytes(),  // outside a transaction
        Msg('C').u8(0).u64(1).u64(2).u64(3).bytes(),                 // commit without begin
        Msg('E').bytes(),
        Msg('R').u32(1).str("s").bytes(),
        Msg('U').u32(16384).u8('X').bytes(),
        Msg('D').u32(16384).u8('N').tuple({"1"}).bytes(),
    };
    for (const auto& message : bad) {
        Feed f;
        f.ok(relation(16384, "t"));
        auto r = f.add(message);
        ASSERT_FALSE(r) << "message of " << message.size() << " bytes";
        EXPECT_EQ(r.error().code, ErrorCode::corrupt);
        EXPECT_NE(r.error().message.find("logical/test"), std::string::npos) << r.error().message;
    }
    // A change of a relation never described, and a tuple with a binary or unknown value.
    Feed f;
    f.ok(begin(1, 2));
    EXPECT_FALSE(f.add(Msg('I').u32(5).u8('N').tuple({"1"}).bytes()));
    f.ok(relation(16384, "t"));
    EXPECT_FALSE(f.add(Msg('I').u32(16384).u8('N').u16(1).raw("b").u32(1).raw("x").bytes()));
    EXPECT_FALSE(f.add(Msg('I').u32(16384).u8('N').u16(1).raw("t").u32(1000).raw("x").bytes()));
}

TEST(PgoutputDecoder, WholeObjects) {
    ChangeLogWriter w;
    w.add(ChangeRecordKind::relation, 1, relation(16384, "t"));
    w.add(ChangeRecordKind::message, 2, begin(1, 0x10));
    w.add(ChangeRecordKind::message, 3, Msg('I').u32(16384).u8('N').tuple({"1", "a", "n"}).bytes());
    w.add(ChangeRecordKind::message, 4, commit(0x10, 0x20));
    PgoutputDecoder d;
    ASSERT_TRUE(d.add_object(w.content(), "logical/a"));
    EXPECT_EQ(d.take_committed().size(), 1u);
    auto bad = d.add_object("LBCX", "logical/b");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::corrupt);
}

namespace {

Change row_change(ChangeAction action) {
    auto rel = std::make_shared<Relation>();
    rel->schema = "public";
    rel->name = "we\"ird";
    rel->columns = {{"id", 23, -1, true}, {"name", 25, -1, false}, {"body", 25, -1, false}};
    Change c;
    c.action = action;
    c.relation = rel;
    return c;
}
ColumnValue text(std::string s) {
    return {ValueKind::text, std::move(s)};
}
const ColumnValue k_null{ValueKind::null, ""};
const ColumnValue k_toast{ValueKind::unchanged_toast, ""};

}  // namespace

TEST(ChangeSql, InsertUsesEveryColumnWithNullsAsNull) {
    Change c = row_change(ChangeAction::insert);
    c.new_values = {text("1"), text("a'b"), k_null};
    auto s = change_statement(c);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(
        s->sql,
        "INSERT INTO \"public\".\"we\"\"ird\" (\"id\", \"name\", \"body\") VALUES ($1, $2, $3)");
    ASSERT_EQ(s->params.size(), 3u);
    EXPECT_EQ(*s->params[1], "a'b");
    EXPECT_FALSE(s->params[2]);
}

TEST(ChangeSql, UpdateLeavesUnchangedToastOutAndLocatesByKey) {
    Change c = row_change(ChangeAction::update);
    c.new_values = {text("1"), text("b"), k_toast};
    auto s = change_statement(c);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->sql,
              "UPDATE \"public\".\"we\"\"ird\" SET \"id\" = $1, \"name\" = $2 WHERE \"id\" = $3");
    EXPECT_EQ(*s->params[2], "1");
    // The key changed: the old key locates the row.
    c.old_kind = OldTuple::key;
    c.old_values = {text("7"), k_null, k_null};
    c.new_values = {text("8"), text("b"), text("body")};
    auto moved = change_statement(c);
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->sql,
              "UPDATE \"public\".\"we\"\"ird\" SET \"id\" = $1, \"name\" = $2, \"body\" = $3 WHERE "
              "\"id\" = $4");
    EXPECT_EQ(*moved->params[3], "7");
    EXPECT_NE(moved->shape, s->shape);
}

TEST(ChangeSql, DeleteAndIdentityFull) {
    Change c = row_change(ChangeAction::remove);
    c.old_kind = OldTuple::key;
    c.old_values = {text("3"), k_null, k_null};
    auto s = change_statement(c);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->sql, "DELETE FROM \"public\".\"we\"\"ird\" WHERE \"id\" = $1");
    c.old_kind = OldTuple::full;
    c.old_values = {text("3"), k_null, k_toast};
    auto full = change_statement(c);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->sql,
              "DELETE FROM \"public\".\"we\"\"ird\" WHERE ctid = (SELECT ctid FROM "
              "\"public\".\"we\"\"ird\" WHERE \"id\" IS NOT DISTINCT FROM $1 AND \"name\" IS NOT "
              "DISTINCT FROM $2 LIMIT 1)");
    EXPECT_EQ(full->params.size(), 2u);
}

TEST(ChangeSql, RefusesWhatCannotBeApplied) {
    Change c = row_change(ChangeAction::insert);
    c.new_values = {text("1")};
    EXPECT_EQ(change_statement(c).error().code, ErrorCode::corrupt);
    Change d = row_change(ChangeAction::remove);
    EXPECT_EQ(change_statement(d).error().code, ErrorCode::corrupt);
    Change u = row_change(ChangeAction::update);
    u.new_values = {k_null, text("x"), text("y")};  // no key value
    EXPECT_EQ(change_statement(u).error().code, ErrorCode::corrupt);
}

TEST(ChangeSql, Truncate) {
    Change c = row_change(ChangeAction::truncate);
    c.truncated = {c.relation, c.relation};
    c.truncate_options = 3;
    EXPECT_EQ(truncate_statement(c),
              "TRUNCATE ONLY \"public\".\"we\"\"ird\", \"public\".\"we\"\"ird\" RESTART IDENTITY "
              "CASCADE");
}

TEST(SequenceSamples, FirstAfterTheLastAppliedElseNewestBefore) {
    const std::vector<SequenceSample> samples = {
        {"public", "a", "10", true, 100},
        {"public", "a", "20", true, 200},
        {"public", "a", "30", true, 300},
        {"public", "b", "5", true, 100},
    };
    auto chosen = choose_sequence_samples(samples, 150);
    ASSERT_EQ(chosen.size(), 2u);
    EXPECT_EQ(chosen[0].last_value, "20");
    EXPECT_EQ(chosen[1].last_value, "5");  // none after: the newest before
    EXPECT_EQ(choose_sequence_samples(samples, 200)[0].last_value, "20");
    EXPECT_EQ(choose_sequence_samples(samples, 400)[0].last_value, "30");
}

TEST(ChangeChain, FollowsFromTheConsistentPoint) {
    const std::vector<std::string> names = {
        "000000010000000000000002",
        "logical/0000000000000100-0000000000000200",
        "logical/0000000000000200-0000000000000300",
        "logical/0000000000000200-0000000000000250",
        "logical/0000000000000300-0000000000000400",
        "logical/0000000000000500-0000000000000600",
    };
    auto chain = follow_chain(names, 0x100);
    ASSERT_EQ(chain.objects.size(), 3u);
    EXPECT_EQ(chain.objects[1], "logical/0000000000000200-0000000000000300");
    EXPECT_EQ(chain.end, 0x400u);
    EXPECT_TRUE(chain.gap);
    auto inside = follow_chain(names, 0x180);  // covered by the first object
    EXPECT_EQ(inside.objects.size(), 3u);
    auto none = follow_chain(names, 0x700);
    EXPECT_TRUE(none.objects.empty());
    EXPECT_FALSE(none.gap);
}

namespace {

constexpr std::string_view k_dump = R"(SET statement_timeout = 0;
SET client_encoding = 'UTF8';

--
-- Name: capture_ddl(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.capture_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;

--
-- Name: items; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.items (id integer NOT NULL, name text);

--
-- Name: items_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

CREATE SEQUENCE public.items_id_seq;

--
-- Name: items_old; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.items_old (id integer NOT NULL);

--
-- Name: orders; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.orders (id integer NOT NULL, item integer);

--
-- Name: orders_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.orders_id_seq);

--
-- Name: items id; Type: DEFAULT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.items ALTER COLUMN id SET DEFAULT nextval('public.items_id_seq'::regclass);

--
-- Name: items_old items_old_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.items_old ADD CONSTRAINT items_old_pkey PRIMARY KEY (id);

--
-- Name: items items_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.items ADD CONSTRAINT items_pkey PRIMARY KEY (id);

--
-- Name: orders orders_item_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_item_fkey FOREIGN KEY (item) REFERENCES public.items(id);

--
-- Name: items_by_name; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX items_by_name ON public.items USING btree (name);

--
-- Name: v; Type: VIEW; Schema: public; Owner: postgres
--

CREATE VIEW public.v AS SELECT * FROM public.items;

--
-- Name: TABLE items; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.items TO lbrep;

--
-- Name: TABLE orders; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.orders TO lbrep;
)";

}  // namespace

TEST(DumpFilter, KeepsTheTableAndWhatIsNotBoundToATable) {
    const std::string cut = filter_dump_for_table(k_dump, "public", "items");
    for (std::string_view kept :
         {"SET client_encoding", "CREATE FUNCTION public.capture_ddl",
          "CREATE TABLE public.items (", "CREATE SEQUENCE public.items_id_seq",
          "SET DEFAULT nextval", "items_pkey PRIMARY KEY", "CREATE INDEX items_by_name",
          "GRANT SELECT ON TABLE public.items TO"}) {
        EXPECT_NE(cut.find(kept), std::string::npos) << kept;
    }
    for (std::string_view dropped :
         {"CREATE TABLE public.items_old", "CREATE TABLE public.orders", "items_old_pkey",
          "orders_item_fkey", "CREATE VIEW", "ADD GENERATED ALWAYS", "ON TABLE public.orders"}) {
        EXPECT_EQ(cut.find(dropped), std::string::npos) << dropped;
    }
    EXPECT_EQ(dump_identifier("Mixed Case"), "\"Mixed Case\"");
    EXPECT_EQ(dump_identifier("plain_1"), "plain_1");
}

TEST(DumpFilter, SequenceValuesSkipMissingSequences) {
    EXPECT_EQ(
        guard_missing_sequences("-- x\nSELECT pg_catalog.setval('public.\"it''s\"', 42, true);\n"),
        "-- x\nSELECT pg_catalog.setval(pg_catalog.to_regclass('public.\"it''s\"'), 42, true);\n");
}

TEST(PhysicalRestoreTarget, RefusesTheLogicalOnlyOptions) {
    for (int which = 0; which < 2; ++which) {
        source::RestoreRequest request;
        request.target_dir = "/nonexistent/target";
        if (which == 0) request.target_conninfo = "dbname=x";
        if (which == 1) request.only_table = "public.t";
        postgres_physical::PhysicalRestoreTarget target(request);
        repo::Manifest manifest;
        manifest.id = "20261126T080000Z";
        auto placed = target.check_and_place(manifest);
        ASSERT_FALSE(placed);
        EXPECT_EQ(placed.error().code, ErrorCode::usage);
        EXPECT_NE(placed.error().message.find("postgres-logical"), std::string::npos);
    }
}

TEST(PgoutputDecoder, RelationHeadRecordsWithOrWithoutAnXid) {
    // A capture that cut an object inside a stream block repeats the Relation message as it
    // was received there: with the (sub)transaction's xid first.
    PgoutputDecoder d;
    ASSERT_TRUE(d.add({ChangeRecordKind::relation, 1, relation(16384, "t", true, 900)}, "o"));
    ASSERT_TRUE(d.add({ChangeRecordKind::relation, 2, relation(16385, "u")}, "o"));
    ASSERT_TRUE(d.add({ChangeRecordKind::message, 3, begin(1, 0x10)}, "o"));
    ASSERT_TRUE(d.add(
        {ChangeRecordKind::message, 4, Msg('I').u32(16384).u8('N').tuple({"1", "a", "n"}).bytes()},
        "o"));
    ASSERT_TRUE(d.add(
        {ChangeRecordKind::message, 5, Msg('I').u32(16385).u8('N').tuple({"1", "a", "n"}).bytes()},
        "o"));
    ASSERT_TRUE(d.add({ChangeRecordKind::message, 6, commit(0x10, 0x20)}, "o"));
    const auto done = d.take_committed();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].changes[0].relation->name, "t");
    EXPECT_EQ(done[0].changes[1].relation->name, "u");
}
