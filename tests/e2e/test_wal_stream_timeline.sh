#!/usr/bin/env bash
# wal-stream follows a failover (issue 15, item 4): it streams from a primary that has a
# streaming standby; the primary stops, the standby is promoted (timeline 2); wal-stream, given the
# standby as --pg-fallback, reconnects there, creates its slot there (slots are not copied to
# standbys), stores 00000002.history and streams timeline 2 from the switch. The standby does not
# archive: timeline 2's WAL in the repository is what wal-stream stored. A point-in-time restore to
# a moment after the switch (between two commits with a gap) gives exactly the rows of that moment.
source "$(dirname "$0")/lib.sh" "$@"

now_utc() { psql_on "$1" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
rows_hash() { psql_on "$1" "SELECT count(*) || ':' || md5(coalesce(string_agg(id || '=' || note, ',' ORDER BY id), '')) FROM items"; }
SLOT=lb_stream
slot_active() { psql_on "$1" "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'), false)" 2>/dev/null; }
slot_flushed() { psql_on "$1" "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
# wait_flushed CONNINFO LSN: until the slot on that server reports LSN stored (60 s at most).
wait_flushed() {
    local conn=$1 lsn=$2 f
    for _ in $(seq 1 600); do
        f=$(slot_flushed "$conn")
        [ -n "$f" ] && [ "$(psql_on "$conn" "SELECT '$lsn'::pg_lsn <= '$f'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    cat "$T/stream.err" >&2
    fail "WAL up to $lsn not reported stored on $conn (at '$f')"
}

start_source
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)"
backup_json
ok "backup $BACKUP_ID"

# ---- a streaming standby of the primary, which does not archive
STANDBY="$T/standby"
STANDBY_PORT=$(free_port)
STANDBY_CONN=$(conninfo_for "$STANDBY_PORT")
as_pg "$PGBIN/pg_basebackup" -D "$STANDBY" -d "$CONNINFO" -R -X stream >"$T/basebackup.log" 2>&1 ||
    { cat "$T/basebackup.log" >&2; fail "pg_basebackup of the standby failed"; }
cat >>"$STANDBY/postgresql.conf" <<CONF
port = $STANDBY_PORT
archive_mode = off
CONF
start_server "$STANDBY"
ok "standby on port $STANDBY_PORT"

# ---- wal-stream on the primary, the standby as fallback
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" --pg-fallback "$STANDBY_CONN" \
    --slot "$SLOT" --reconnect-timeout 120s --json >"$T/stream.out" 2>"$T/stream.err" &
STREAM_JOB=$!
BG_PIDS+=($STREAM_JOB)
for _ in $(seq 1 100); do [ -s "$T/stream.pid" ] && break; sleep 0.1; done
STREAM_PID=$(cat "$T/stream.pid")  # lifeboat's own pid
for _ in $(seq 1 300); do
    [ "$(slot_active "$CONNINFO")" = t ] && break
    kill -0 "$STREAM_JOB" 2>/dev/null || { cat "$T/stream.err" >&2; fail "wal-stream ended at start"; }
    sleep 0.1
done
[ "$(slot_active "$CONNINFO")" = t ] || fail "wal-stream did not start streaming"
grep -q "max_slot_wal_keep_size is -1" "$T/stream.err" ||
    defer_fail "no warning about max_slot_wal_keep_size = -1: $(cat "$T/stream.err")"

q "INSERT INTO items SELECT g, 'timeline 1' FROM generate_series(1, 100) g"
wait_flushed "$CONNINFO" "$(q "SELECT pg_current_wal_insert_lsn()")"
ok "timeline 1 streamed"

# ---- failover: the primary stops, the standby is promoted
as_pg "$PGBIN/pg_ctl" -D "$SRC" -m fast -w stop >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -w promote >/dev/null || fail "promotion failed"
psql_on "$STANDBY_CONN" "CHECKPOINT"
expect_eq "$(psql_on "$STANDBY_CONN" "SELECT timeline_id FROM pg_control_checkpoint()")" 2 "timeline after the promotion"
for _ in $(seq 1 1200); do
    [ "$(slot_active "$STANDBY_CONN")" = t ] && [ -n "$(find "$REPO/wal" -name 00000002.history)" ] && break
    kill -0 "$STREAM_JOB" 2>/dev/null || { cat "$T/stream.err" >&2; fail "wal-stream ended at the failover"; }
    sleep 0.1
done
[ "$(slot_active "$STANDBY_CONN")" = t ] || { cat "$T/stream.err" >&2; fail "wal-stream did not reconnect to the promoted standby"; }
[ -n "$(find "$REPO/wal" -name 00000002.history)" ] || fail "00000002.history not stored"
ok "wal-stream reconnected to the promoted standby and stored 00000002.history"

# ---- writes on timeline 2; T between two commits with a gap
psql_on "$STANDBY_CONN" "INSERT INTO items SELECT g, 'timeline 2, before T' FROM generate_series(101, 200) g"
psql_on "$STANDBY_CONN" "UPDATE items SET note = 'updated on timeline 2' WHERE id <= 10"
sleep 1
TARGET=$(now_utc "$STANDBY_CONN")
WANT=$(rows_hash "$STANDBY_CONN")
sleep 1
psql_on "$STANDBY_CONN" "INSERT INTO items SELECT g, 'timeline 2, after T' FROM generate_series(201, 300) g"
wait_flushed "$STANDBY_CONN" "$(psql_on "$STANDBY_CONN" "SELECT pg_current_wal_insert_lsn()")"
[ -n "$(find "$REPO/wal" -path '*00000002000000*' -type f)" ] || fail "no WAL of timeline 2 stored"
ok "timeline 2 streamed: target $TARGET, rows $WANT"

kill -TERM "$STREAM_PID"
RC=0
wait "$STREAM_JOB" || RC=$?
expect_eq "$RC" 0 "wal-stream's status after SIGTERM"
jq -e '.timeline == 2 and .timeline_switches >= 1' "$T/stream.out" >/dev/null ||
    defer_fail "summary: $(cat "$T/stream.out")"

# ---- PITR to T on timeline 2 is exact
restore_into "$T/pitr" --to "$TARGET" --timeline 2 --start
GOT=$(rows_hash "$RESTORED_CONN")
expect_eq "$GOT" "$WANT" "rows of the instance restored to $TARGET"
expect_eq "$(jq -r '.timeline // empty' "$OUT")" 2 "timeline of the restore"
ok "restore --to $TARGET on timeline 2 is exact ($GOT)"
finish
