#!/usr/bin/env bash
# A postgres-logical base backup splits a large table into ctid (block) ranges copied on
# parallel connections under the same exported snapshot (issue 14, item 2): with a threshold of
# 1 MiB (--split-table-mib 1) a ~3 MiB table is stored as several entries, a small one as one;
# the restore loads every piece and its rows equal the source's at the snapshot (rows updated
# before the backup sit in later blocks; rows written after it are absent); --only of the split
# table loads all of its pieces; with 0 nothing is split.
source "$(dirname "$0")/lib.sh" "$@"

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }
a "CREATE TABLE big (id int PRIMARY KEY, v text, n int)
   ; CREATE TABLE small (id int PRIMARY KEY, v text)
   ; INSERT INTO big SELECT g, md5(g::text), 0 FROM generate_series(1, 30000) g
   ; UPDATE big SET n = 1, v = v || '!' WHERE id % 3 = 0
   ; DELETE FROM big WHERE id % 17 = 0
   ; INSERT INTO small SELECT g, 's' || g FROM generate_series(1, 100) g
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep" >/dev/null
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply
BIG_MIB=$(a "SELECT round(pg_relation_size('big') / 1048576.0, 1)")
state() {
    psql_on "$1" "SELECT (SELECT count(*) || ' ' || md5(string_agg(b::text, '|' ORDER BY id)) FROM big b),
        (SELECT count(*) || ' ' || md5(string_agg(s::text, '|' ORDER BY id)) FROM small s)"
}
BEFORE=$(state "$APP_ADMIN")

CONNINFO=$APP_REP backup_json --source-kind postgres-logical --split-table-mib 1 --jobs 2
SPLIT_FILES=$(jq -r '.files // .stats.files' "$OUT")
a "INSERT INTO big VALUES (100000, 'after the backup', 2); UPDATE big SET n = 9 WHERE id < 100" >/dev/null

PORT=$(free_port)
DATA_DIRS+=("$T/restored/pgdata")
restore_into "$T/restored" --to consistent --port "$PORT" --start
expect_eq "$(state "$RESTORED_CONN")" "$BEFORE" "rows of the restore of the split backup"
as_pg "$PGBIN/pg_ctl" -D "$T/restored/pgdata" -m fast -w stop >/dev/null

PORT=$(free_port)
DATA_DIRS+=("$T/only/pgdata")
restore_into "$T/only" --to consistent --port "$PORT" --start --only big
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) || ' ' || md5(string_agg(b::text, '|' ORDER BY id)) FROM big b")" \
    "${BEFORE%%|*}" "rows of --only big"
as_pg "$PGBIN/pg_ctl" -D "$T/only/pgdata" -m fast -w stop >/dev/null

# The same source without splitting: fewer entries, same rows.
CONNINFO=$APP_REP backup_json --source-kind postgres-logical --split-table-mib 0
WHOLE_FILES=$(jq -r '.files // .stats.files' "$OUT")
[ "$SPLIT_FILES" -gt $((WHOLE_FILES + 1)) ] ||
    fail "a ${BIG_MIB} MiB table at --split-table-mib 1 was not split ($SPLIT_FILES entries, $WHOLE_FILES without splitting)"
expect_exit 0 lb verify --repo "$REPO"
ok "a ${BIG_MIB} MiB table split into $((SPLIT_FILES - WHOLE_FILES + 1)) ranges; restore and --only equal the source at the snapshot"
finish
