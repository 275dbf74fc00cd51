#!/usr/bin/env bash
# A tablespace outside the data directory is backed up and restored to a new location (the
# default "<target-dir>-tablespace-<oid>" or one given with --tablespace OID=DIR), never onto the
# source's own tablespace directory.
source "$(dirname "$0")/lib.sh" "$@"

start_source
TS1="$T/ts1"
as_pg mkdir "$TS1"
q "CREATE TABLESPACE ts1 LOCATION '$TS1'"
OID=$(q "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")
q "CREATE TABLE far (id int PRIMARY KEY, v text) TABLESPACE ts1"
q "CREATE INDEX far_v ON far (v) TABLESPACE ts1"
q "INSERT INTO far SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
REL=$(q "SELECT pg_relation_filepath('far')")
ok "tablespace ts1 (oid $OID) at $TS1; table far in $REL"

backup_json
ok "backup $BACKUP_ID"
expect_exit 0 lb list --repo "$REPO" --json
# After the backup: more rows, so 'latest' needs WAL replay into the tablespace.
q "INSERT INTO far SELECT g, md5(g::text) FROM generate_series(20001, 21000) g"
WANT=$(q "SELECT count(*) FROM far")
WANT_SUM=$(q "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM far")
q "VACUUM (FREEZE) far"
q "CHECKPOINT"
switch_wal_and_wait
SRC_TS_SHA=$(find "$TS1" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)

# check_restored DIR TSDIR: the instance restored into DIR has the rows and its tablespace link
# points at TSDIR.
check_restored() {
    local dir=$1 tsdir=$2
    local link
    link=$(readlink "$dir/pg_tblspc/$OID") || fail "$dir/pg_tblspc/$OID is not a symbolic link"
    expect_eq "$(readlink -f "$dir/pg_tblspc/$OID")" "$(readlink -f "$tsdir")" "target of $dir/pg_tblspc/$OID"
    [ "$(readlink -f "$link")" != "$(readlink -f "$TS1")" ] || fail "the restored tablespace link points at the source's $TS1"
    [ -n "$(find "$tsdir" -type f -path "*/$(basename "$REL")")" ] || fail "no relation file of far under $tsdir"
    expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM far")" "$WANT" "rows of far after restore"
    expect_eq "$(psql_on "$RESTORED_CONN" "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM far")" "$WANT_SUM" "content of far after restore"
    expect_eq "$(psql_on "$RESTORED_CONN" "SELECT pg_tablespace_location($OID)")" "$(readlink -f "$tsdir")" "pg_tablespace_location on the restored instance"
    # Index in the tablespace works, and writes land in the new location.
    expect_eq "$(psql_on "$RESTORED_CONN" "SET enable_seqscan = off; SELECT count(*) FROM far WHERE v = md5('20500')")" 1 "index lookup on the restored instance"
    psql_on "$RESTORED_CONN" "INSERT INTO far SELECT g, 'restored' FROM generate_series(900001, 901000) g; CHECKPOINT"
}

# 1. The default location: <target-dir>-tablespace-<oid>.
R="$T/r"
restore_into "$R" --to latest --port "$(free_port)" --start
check_restored "$R" "$R-tablespace-$OID"
ok "restore to $R: rows present, pg_tblspc/$OID -> $(readlink "$R/pg_tblspc/$OID")"
stop_server "$R"

# 2. An explicit location.
R2="$T/r2"
NEW="$T/ts1new"
restore_into "$R2" --to latest --port "$(free_port)" --start --tablespace "$OID=$NEW"
check_restored "$R2" "$NEW"
ok "restore to $R2 with --tablespace $OID=$NEW: rows present, pg_tblspc/$OID -> $(readlink "$R2/pg_tblspc/$OID")"
stop_server "$R2"

# 3. Refused: the source's own tablespace directory, and a non-empty one.
R3="$T/r3"
expect_exit 7 lb restore --repo "$REPO" --to latest --target-dir "$R3" --tablespace "$OID=$TS1"
expect_one_line_error
ok "refuses --tablespace $OID=<the source's directory> (7): $(cat "$ERR")"
expect_exit 7 lb restore --repo "$REPO" --to latest --target-dir "$R3" --tablespace "$OID=$NEW"
expect_one_line_error
ok "refuses a non-empty tablespace directory (7): $(cat "$ERR")"
[ ! -e "$R3" ] || fail "a refused restore created $R3"

# The source and its tablespace were not touched by any of it.
expect_eq "$(q "SELECT count(*) FROM far")" "$WANT" "rows of far on the source"
expect_eq "$(q "SELECT count(*) FROM far WHERE v = 'restored'")" 0 "rows written by the restored instances, seen on the source"
q "CHECKPOINT"
expect_eq "$(find "$TS1" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)" "$SRC_TS_SHA" "content of the source's tablespace directory"
ok "the source's tablespace is untouched"
finish
