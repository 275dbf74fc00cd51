// The postgres-logical driver's pure parts: cutting a COPY stream into blocks, entry paths and
// slot names, the replication conninfo, the preflight's lines, the manifest payload (written
// and read back, with its paths checked against the entries) and the log archive's refusals.
#include <gtest/gtest.h>

#include "drivers/postgres_logical/base_backup.hpp"
#include "drivers/postgres_logical/block_cutter.hpp"
#include "drivers/postgres_logical/log_archive.hpp"
#include "drivers/postgres_logical/preflight.hpp"
#include "repository/manifest.hpp"
#include "sources/postgres/connection.hpp"
#include "storage/posix/posix_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

namespace {

// A store function recording what it got; block ids count up.
struct Recorder {
    std::vector<std::string> blocks;
    BlockCutter::StoreFn fn() {
        return [this](std::string_view block) -> Result<repo::BlockId> {
            blocks.emplace_back(block);
            return repo::BlockId::of(block);
        };
    }
};

}  // namespace

TEST(PostgresLogicalBlockCutter, CutsPiecesOfAnySizeIntoWholeBlocksAndAShortLastOne) {
    Recorder recorder;
    BlockCutter cutter(4, recorder.fn());
    for (std::string_view piece : {"ab", "cdefghi", "", "j", "klmnopqrs"})
        ASSERT_TRUE(cutter.add(piece));
    ASSERT_TRUE(cutter.finish());
    EXPECT_EQ(recorder.blocks, (std::vector<std::string>{"abcd", "efgh", "ijkl", "mnop", "qrs"}));
    EXPECT_EQ(cutter.size(), 19u);
    EXPECT_EQ(cutter.blocks().size(), 5u);
}

TEST(PostgresLogicalBlockCutter, AnEmptyStreamAndABoundaryEndStoreNothingMore) {
    Recorder empty;
    BlockCutter none(4, empty.fn());
    ASSERT_TRUE(none.finish());
    EXPECT_TRUE(empty.blocks.empty());
    EXPECT_EQ(none.size(), 0u);
    Recorder exact;
    BlockCutter cutter(4, exact.fn());
    ASSERT_TRUE(cutter.add("abcdefgh"));
    ASSERT_TRUE(cutter.finish());
    EXPECT_EQ(exact.blocks, (std::vector<std::string>{"abcd", "efgh"}));
}

TEST(PostgresLogicalBlockCutter, AStoreFailureStopsTheStream) {
    BlockCutter cutter(2, [](std::string_view) -> Result<repo::BlockId> {
        return fail(ErrorCode::io, "disk full");
    });
    auto added = cutter.add("abc");
    ASSERT_FALSE(added);
    EXPECT_EQ(added.error().code, ErrorCode::io);
}

TEST(PostgresLogical, TableEntryPathsAreOneSafeComponentWhateverTheNames) {
    EXPECT_EQ(table_entry_path("public", "orders"), "data/public.orders.copy");
    EXPECT_EQ(table_entry_path("a/b", "50%\n"), "data/a%2Fb.50%25%0A.copy");
    EXPECT_EQ(table_entry_path("..", ".."), "data/%2E%2E.%2E%2E.copy");
    EXPECT_NE(table_entry_path("a.b", "c"), table_entry_path("a", "b.c"));
}

TEST(PostgresLogical, SlotNamesComeFromTheRepositoryId) {
    EXPECT_EQ(slot_name_for("994CEE13a4ce853b6815947b7dfd7de0"), "lifeboat_994cee13a4ce853b");
}

TEST(PostgresLogical, ReplicationConninfoKeepsTheGivenForm) {
    EXPECT_EQ(postgres::replication_conninfo("host=/tmp dbname=app"),
              "host=/tmp dbname=app replication=database");
    EXPECT_EQ(postgres::replication_conninfo("postgres://u@h/app"),
              "postgres://u@h/app?replication=database");
    EXPECT_EQ(postgres::replication_conninfo("postgresql://u@h/app?sslmode=require"),
              "postgresql://u@h/app?sslmode=require&replication=database");
}

TEST(PostgresLogicalPreflight, AGoodSourceHasNoProblem) {
    SourceFacts facts{
        .server_version = 150018, .wal_level = "logical", .role = "lb", .replication = true};
    EXPECT_TRUE(preflight_problems(facts).empty());
    facts.replication = false;
    facts.superuser = true;
    EXPECT_TRUE(preflight_problems(facts).empty());
}

TEST(PostgresLogicalPreflight, EachProblemIsOneLineNamingWhatToDo) {
    SourceFacts facts{.server_version = 140000, .wal_level = "replica", .role = "lb"};
    for (int i = 0; i < 12; ++i)
        facts.tables_without_identity.push_back("public.t" + std::to_string(i));
    facts.unlogged_tables = {"public.cache"};
    facts.unreadable_tables = {"secret.keys"};
    facts.large_objects = 3;
    auto problems = preflight_problems(facts);
    ASSERT_EQ(problems.size(), 7u);
    EXPECT_NE(problems[3].find("role lb cannot read 1 table(s): secret.keys"), std::string::npos);
    problems.erase(problems.begin() + 3);
    EXPECT_NE(problems[0].find("PostgreSQL 140000"), std::string::npos);
    EXPECT_NE(problems[1].find("rds.logical_replication = 1"), std::string::npos);
    EXPECT_NE(problems[2].find("GRANT rds_replication TO lb"), std::string::npos);
    EXPECT_NE(problems[3].find("12 table(s)"), std::string::npos);
    EXPECT_NE(problems[3].find("public.t9 and 2 more"), std::string::npos);
    EXPECT_EQ(problems[3].find("public.t10"), std::string::npos);
    EXPECT_NE(problems[4].find("public.cache"), std::string::npos);
    EXPECT_NE(problems[5].find("3 large object(s)"), std::string::npos);
    for (const auto& p : problems)
        EXPECT_EQ(p.find('\n'), std::string::npos) << p;
}

namespace {

repo::Manifest logical_manifest() {
    repo::Manifest m;
    m.id = "20261129T120000Z";
    m.source = {std::string(repo::k_kind_postgres_logical), "7312345678901234567", 150018};
    m.start_time = Timestamp{1764417600000000};
    m.stop_time = Timestamp{1764417601000000};
    m.start_lsn = m.stop_lsn = "0/1E890F8";
    auto file = [](std::string path) {
        repo::ManifestEntry e;
        e.path = std::move(path);
        e.size = 3;
        e.blocks.push_back(repo::BlockId{});
        return e;
    };
    repo::ManifestEntry dir;
    dir.path = "schema";
    dir.type = repo::EntryType::directory;
    m.entries = {dir, file("schema/pre-data.sql"), file("schema/post-data.sql"),
                 file("schema/sequences.sql"), file("data/public.t.copy")};
    m.logical = {.database = "app",
                 .slot_name = "lifeboat_0123456789abcdef",
                 .snapshot_name = "00000003-00000002-1",
                 .pre_data_path = "schema/pre-data.sql",
                 .post_data_path = "schema/post-data.sql",
                 .sequences_path = "schema/sequences.sql",
                 .tables = {{"public", "t", "data/public.t.copy"}}};
    return m;
}

}  // namespace

TEST(PostgresLogicalManifest, ThePayloadIsWrittenAndReadBack) {
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-logical-manifest-").value();
    PosixStorage storage(dir.path());
    const repo::Manifest m = logical_manifest();
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto back = repo::read_manifest(storage, m.id);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->source.kind, "postgres-logical");
    EXPECT_EQ(back->logical.database, "app");
    EXPECT_EQ(back->logical.slot_name, m.logical.slot_name);
    EXPECT_EQ(back->logical.snapshot_name, m.logical.snapshot_name);
    EXPECT_EQ(back->logical.sequences_path, "schema/sequences.sql");
    EXPECT_EQ(back->logical.tables, m.logical.tables);
    EXPECT_EQ(back->stop_lsn, "0/1E890F8");
}

TEST(PostgresLogicalManifest, APayloadPathThatIsNoFileEntryIsDamage) {
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-logical-manifest-").value();
    PosixStorage storage(dir.path());
    repo::Manifest m = logical_manifest();
    m.logical.tables.push_back({"public", "ghost", "data/public.ghost.copy"});
    ASSERT_TRUE(repo::write_manifest(storage, m));
    auto back = repo::read_manifest(storage, m.id);
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().code, ErrorCode::corrupt);
    EXPECT_NE(back.error().message.find("public.ghost"), std::string::npos) << back.error().message;
    m = logical_manifest();
    m.id = "20261129T120001Z";
    m.logical.pre_data_path = "schema";  // a directory
    ASSERT_TRUE(repo::write_manifest(storage, m));
    back = repo::read_manifest(storage, m.id);
    ASSERT_FALSE(back);
    EXPECT_NE(back.error().message.find("pre_data"), std::string::npos) << back.error().message;
}

TEST(PostgresLogicalLogArchive, OwnsNothingOfAPhysicalArchive) {
    const LogicalLogArchive archive;
    const std::vector<std::string> wal = {"000000010000000000000001", "000000010000000000000002",
                                          "00000002.history"};
    const repo::Manifest m = logical_manifest();
    const auto removable = archive.removable(wal, {&m}, m);
    ASSERT_TRUE(removable);
    EXPECT_TRUE(removable->empty());
    EXPECT_TRUE(archive.objects_for(m, {}, wal).empty());
    auto dir = TempDirectory::create(fs::temp_directory_path(), "lb-logical-archive-").value();
    PosixStorage storage(dir.path());
    auto checked = archive.check_object(storage, wal[0], "x");
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error().code, ErrorCode::usage);
    EXPECT_FALSE(archive.describe_branch(1).empty());
}
