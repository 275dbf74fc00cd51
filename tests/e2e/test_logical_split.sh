#!/usr/bin/env bash
# A postgres-logical base backup splits a large table into ctid (block) ranges copied on
# parallel connections under the same exported snapshot (issue 14, item 2): with a threshold of
# 1 MiB (--split-table-mib 1) a ~3 MiB table is stored as several entries, a small one as one;
# the restore loads every piece and its rows equal the source's at the snapshot (rows updated
# before the backup sit in later blocks; rows written after it are absent; a load moving rows
# between ranges during the backup leaves every row once, its sums balanced); --only of the split
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

# While the split backup runs, transactions move rows between ranges (a non-HOT update writes
# the new version at the table's end) and keep the row count and sum(n) constant: the ranges
# read under one snapshot see each row once and the sums balanced.
INVARIANT=$(a "SELECT count(*) || ' ' || sum(n) || ' ' || count(DISTINCT id) FROM big")
as_pg bash -c 'i=0; while [ ! -e "$0" ]; do i=$((i + 1));
    "$1/psql" -X -q -d "$2" -c "BEGIN; UPDATE big SET n = n + 1, v = v || '"'"'+'"'"' WHERE id = 1 + ($i * 7919) % 29000;
        UPDATE big SET n = n - 1 WHERE id = 1 + ($i * 104729) % 29000 AND id % 17 <> 0; COMMIT" >/dev/null 2>&1 || true
    done' "$T/stop-load" "$PGBIN" "$APP_ADMIN" &
BG_PIDS+=($!)
LOAD_PID=$!
CONNINFO=$APP_REP backup_json --source-kind postgres-logical --split-table-mib 1 --jobs 2
SPLIT_FILES=$(jq -r '.files // .stats.files' "$OUT")
as_pg touch "$T/stop-load"
wait "$LOAD_PID" || true
log "$(a "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'big'") updates of big so far"
a "INSERT INTO big VALUES (100000, 'after the backup', 2); UPDATE big SET n = 9 WHERE id < 100" >/dev/null

PORT=$(free_port)
DATA_DIRS+=("$T/restored/pgdata")
restore_into "$T/restored" --to consistent --port "$PORT" --start
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) || ' ' || sum(n) || ' ' || count(DISTINCT id) FROM big")" \
    "$INVARIANT" "count, sum and distinct ids of the split table restored from a backup taken under load"
SPLIT_STATE=$(state "$RESTORED_CONN")
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM big WHERE v = 'after the backup'")" = 0 ] ||
    fail "a row written after the backup is in the restore"
as_pg "$PGBIN/pg_ctl" -D "$T/restored/pgdata" -m fast -w stop >/dev/null

PORT=$(free_port)
DATA_DIRS+=("$T/only/pgdata")
restore_into "$T/only" --to consistent --port "$PORT" --start --only big
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) || ' ' || md5(string_agg(b::text, '|' ORDER BY id)) FROM big b")" \
    "${SPLIT_STATE%%|*}" "rows of --only big (every range loaded)"
as_pg "$PGBIN/pg_ctl" -D "$T/only/pgdata" -m fast -w stop >/dev/null

# Without a load: a split backup restores exactly the source's rows.
BEFORE=$(state "$APP_ADMIN")
CONNINFO=$APP_REP backup_json --source-kind postgres-logical --split-table-mib 1
PORT=$(free_port)
DATA_DIRS+=("$T/quiet/pgdata")
restore_into "$T/quiet" --to consistent --port "$PORT" --start
expect_eq "$(state "$RESTORED_CONN")" "$BEFORE" "rows of the restore of a split backup"
as_pg "$PGBIN/pg_ctl" -D "$T/quiet/pgdata" -m fast -w stop >/dev/null

# The same source without splitting: fewer entries.
CONNINFO=$APP_REP backup_json --source-kind postgres-logical --split-table-mib 0
WHOLE_FILES=$(jq -r '.files // .stats.files' "$OUT")
[ "$SPLIT_FILES" -gt $((WHOLE_FILES + 1)) ] ||
    fail "a ${BIG_MIB} MiB table at --split-table-mib 1 was not split ($SPLIT_FILES entries, $WHOLE_FILES without splitting)"
expect_exit 0 lb verify --repo "$REPO"
ok "a ${BIG_MIB} MiB table split into $((SPLIT_FILES - WHOLE_FILES + 1)) ranges, backed up under a load moving rows between them: restore and --only hold every row once; without the load the restore equals the source"
finish
