#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sources/postgres/relation_file.hpp"

using namespace lifeboat::postgres;

TEST(RelationFile, ParsesDataFiles) {
    auto main = parse_relation_file("base/5/16384");
    ASSERT_TRUE(main);
    EXPECT_EQ(main->relfilenode, 16384u);
    EXPECT_EQ(main->fork, "main");
    EXPECT_EQ(main->segment, 0u);

    auto segment = parse_relation_file("base/16390/16384.12");
    ASSERT_TRUE(segment);
    EXPECT_EQ(segment->fork, "main");
    EXPECT_EQ(segment->segment, 12u);

    auto fsm = parse_relation_file("global/1260_fsm");
    ASSERT_TRUE(fsm);
    EXPECT_EQ(fsm->relfilenode, 1260u);
    EXPECT_EQ(fsm->fork, "fsm");

    auto vm = parse_relation_file("pg_tblspc/16500/PG_15_202209061/5/16501_vm.3");
    ASSERT_TRUE(vm);
    EXPECT_EQ(vm->fork, "vm");
    EXPECT_EQ(vm->segment, 3u);

    auto init = parse_relation_file("base/5/16384_init");
    ASSERT_TRUE(init);
    EXPECT_EQ(init->fork, "init");
}

TEST(RelationFile, RefusesEverythingElse) {
    for (const char* path : {"base/5/pg_filenode.map",
                             "base/5/PG_VERSION",
                             "base/5/pg_internal.init",
                             "global/pg_control",
                             "global/pg_filenode.map",
                             "base/5/t3_16384",
                             "base/5/t3_16384_fsm",
                             "base/5/16384_foo",
                             "base/5/16384.",
                             "base/5/16384.x",
                             "base/5/16384.0",
                             "base/5/016384",
                             "base/5/99999999999",
                             "base/5/16384_init_fsm",
                             "base/5/1_2_vm",
                             "16384",
                             "base/16384",
                             "base/x/16384",
                             "base/5/sub/16384",
                             "pg_wal/16384",
                             "pg_xact/0000",
                             "pg_tblspc/16500/5/16501",
                             "pg_tblspc/16500/PG_15_1/x/16501",
                             "pg_tblspc/16500/PG_15_1/5/6/16501",
                             "global/",
                             "base/5/",
                             ""}) {
        EXPECT_FALSE(parse_relation_file(path)) << path;
    }
}

TEST(RelationFile, ExcludesDirectoryContentsButKeepsDirectories) {
    for (const char* dir : {"pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial",
                            "pg_snapshots", "pg_stat_tmp", "pg_subtrans"}) {
        EXPECT_FALSE(is_excluded_from_backup(dir, true)) << dir;
        EXPECT_TRUE(is_excluded_from_backup(std::string(dir) + "/somefile", false)) << dir;
        EXPECT_TRUE(is_excluded_from_backup(std::string(dir) + "/sub", true)) << dir;
    }
    EXPECT_TRUE(is_excluded_from_backup("pg_wal/000000010000000000000001", false));
    EXPECT_FALSE(is_excluded_from_backup("pg_wal/archive_status", true));
    EXPECT_TRUE(
        is_excluded_from_backup("pg_wal/archive_status/000000010000000000000001.done", false));
    EXPECT_TRUE(is_excluded_from_backup("pg_replslot/slot1/state", false));
    EXPECT_FALSE(is_excluded_from_backup("pg_wal/", true));
    // Only at the top level.
    EXPECT_FALSE(is_excluded_from_backup("base/pg_wal/1", false));
}

TEST(RelationFile, ExcludesTheRestoreLogAtTheTopOnly) {
    EXPECT_TRUE(is_excluded_from_backup("lifeboat-restore.log", false));
    EXPECT_FALSE(is_excluded_from_backup("base/lifeboat-restore.log", false));
    EXPECT_FALSE(is_excluded_from_backup("lifeboat-restore.log", true));
}

TEST(RelationFile, ExcludesServerRuntimeFiles) {
    for (const char* file :
         {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_manifest",
          "postgresql.auto.conf.tmp", "current_logfiles.tmp", "global/pg_internal.init",
          "base/5/pg_internal.init", "base/5/pg_internal.init.12345"}) {
        EXPECT_TRUE(is_excluded_from_backup(file, false)) << file;
    }
    for (const char* file :
         {"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "PG_VERSION",
          "global/pg_control", "base/5/16384", "base/5/PG_VERSION", "pg_xact/0000",
          "current_logfiles", "backup_label.old", "pg_logical/replorigin_checkpoint"}) {
        EXPECT_FALSE(is_excluded_from_backup(file, false)) << file;
    }
    EXPECT_FALSE(is_excluded_from_backup("base", true));
    EXPECT_FALSE(is_excluded_from_backup("pg_tblspc", true));
}

TEST(RelationFile, ExcludesTemporaryFiles) {
    EXPECT_TRUE(is_excluded_from_backup("base/pgsql_tmp", true));
    EXPECT_TRUE(is_excluded_from_backup("base/pgsql_tmp/pgsql_tmp123.0", false));
    EXPECT_TRUE(is_excluded_from_backup("pg_tblspc/16500/PG_15_202209061/pgsql_tmp", true));
    EXPECT_TRUE(is_excluded_from_backup("pgsql_tmp_anything", false));

    EXPECT_TRUE(is_excluded_from_backup("base/5/t3_16384", false));
    EXPECT_TRUE(is_excluded_from_backup("base/5/t12_16384_fsm", false));
    EXPECT_TRUE(is_excluded_from_backup("base/5/t12_16384.2", false));
    EXPECT_TRUE(is_excluded_from_backup("pg_tblspc/16500/PG_15_202209061/5/t3_16501", false));
    EXPECT_FALSE(is_excluded_from_backup("base/5/t3", false));
    EXPECT_FALSE(is_excluded_from_backup("base/5/t_16384", false));
    EXPECT_FALSE(is_excluded_from_backup("t3_16384", false));  // not in a database directory
}

TEST(RelationFile, UnloggedRelations) {
    EXPECT_EQ(init_fork_prefix("base/5/16384_init"), "base/5/16384");
    EXPECT_EQ(init_fork_prefix("pg_tblspc/16500/PG_15_202209061/5/16501_init"),
              "pg_tblspc/16500/PG_15_202209061/5/16501");
    EXPECT_FALSE(init_fork_prefix("base/5/16384"));
    EXPECT_FALSE(init_fork_prefix("base/5/16384_fsm"));

    const std::set<std::string> prefixes = {"base/5/16384"};
    EXPECT_TRUE(is_unlogged_non_init_fork("base/5/16384", prefixes));
    EXPECT_TRUE(is_unlogged_non_init_fork("base/5/16384.1", prefixes));
    EXPECT_TRUE(is_unlogged_non_init_fork("base/5/16384_fsm", prefixes));
    EXPECT_TRUE(is_unlogged_non_init_fork("base/5/16384_vm", prefixes));
    EXPECT_FALSE(is_unlogged_non_init_fork("base/5/16384_init", prefixes));
    EXPECT_FALSE(is_unlogged_non_init_fork("base/5/16385", prefixes));
    EXPECT_FALSE(is_unlogged_non_init_fork("base/5/163840", prefixes));
    EXPECT_FALSE(is_unlogged_non_init_fork("base/6/16384", prefixes));
    EXPECT_FALSE(is_unlogged_non_init_fork("base/5/pg_filenode.map", prefixes));
}
