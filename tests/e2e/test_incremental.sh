#!/usr/bin/env bash
# Incremental backups: a second backup takes unchanged files from the first without reading them,
# stores almost nothing, and is still a complete backup (restorable on its own); --type full
# re-reads everything.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE items (id serial PRIMARY KEY, payload text NOT NULL)"
q "INSERT INTO items (payload) SELECT md5(g::text) FROM generate_series(1, 20000) g"
backup_json
sleep 1
backup_json
SECOND=$BACKUP_ID
READ=$(jq -r .read_bytes "$OUT")
REUSED=$(jq -r .reused_files "$OUT")
STORED=$(jq -r .stored_bytes "$OUT")
DATA=$(jq -r .data_bytes "$OUT")
[ "$REUSED" -gt 0 ] || fail "second backup reused no file"
[ "$READ" -lt "$DATA" ] || fail "second backup read $READ of $DATA bytes: nothing skipped"
[ "$STORED" -lt 100000 ] || fail "second backup of an unchanged cluster stored $STORED bytes"
ok "incremental: $REUSED files reused, read $READ of $DATA bytes, stored $STORED bytes"

q "INSERT INTO items (payload) SELECT 'later ' || g FROM generate_series(1, 5000) g"
sleep 1
backup_json --type full
expect_eq "$(jq -r .reused_files "$OUT")" 0 "files reused by a full backup"
expect_eq "$(jq -r .read_bytes "$OUT")" "$(jq -r .data_bytes "$OUT")" "bytes read by a full backup"
WANT=$(q "SELECT count(*) FROM items")
switch_wal_and_wait

# Every backup restores on its own (no chain): restore the second one to latest.
PORT=$(free_port)
restore_into "$T/r" --to latest --backup "$SECOND" --start --port "$PORT"
expect_eq "$(jq -r .backup "$OUT")" "$SECOND" "backup used by the restore"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM items")" "$WANT" "rows after restore"
expect_exit 0 lb verify --repo "$REPO"
finish
