#!/usr/bin/env bash
# wal-stream's slot safety (issue 15, item 5): with max_slot_wal_keep_size set, wal-stream states
# the limit; while it is down, more WAL than the limit invalidates its slot (wal_status 'lost') and
# the server removes WAL the repository does not hold (archive_command stores nothing meanwhile).
# The next wal-stream refuses with one line naming the gap and what to do (a new backup), records
# the gap in the repository, and `list --json` shows it as a gap of the restorable window.
source "$(dirname "$0")/lib.sh" "$@"

SLOT=lb_stream
start_source
q "ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'"
q "SELECT pg_reload_conf()" >/dev/null
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)"
backup_json
ok "backup $BACKUP_ID"

as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" \
    --slot "$SLOT" --reconnect-timeout 0s --json >"$T/stream.out" 2>"$T/stream.err" &
STREAM_JOB=$!
BG_PIDS+=($STREAM_JOB)
for _ in $(seq 1 100); do [ -s "$T/stream.pid" ] && break; sleep 0.1; done
STREAM_PID=$(cat "$T/stream.pid")
for _ in $(seq 1 300); do
    [ "$(q "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'), false)")" = t ] && break
    kill -0 "$STREAM_PID" 2>/dev/null || { cat "$T/stream.err" >&2; fail "wal-stream ended at start"; }
    sleep 0.1
done
q "INSERT INTO items SELECT g, 'streamed' FROM generate_series(1, 100) g"
kill -TERM "$STREAM_PID"
wait "$STREAM_JOB" || fail "wal-stream's status after SIGTERM"
jq -e '.max_slot_wal_keep_size == "32MB" and .wal_status == "reserved" and (.safe_wal_size | length) > 0' "$T/stream.out" >/dev/null || defer_fail "summary: $(cat "$T/stream.out")"
ok "wal-stream ran with max_slot_wal_keep_size = 32MB"

# ---- while wal-stream is down and nothing is archived, more WAL than the limit
q "ALTER SYSTEM SET archive_command = 'true'"
q "SELECT pg_reload_conf()" >/dev/null
for i in $(seq 1 5); do
    q "INSERT INTO items SELECT g, repeat('x', 1000) FROM generate_series($((i * 10000)), $((i * 10000 + 9999))) g"
    q "SELECT pg_switch_wal()" >/dev/null
done
for _ in $(seq 1 100); do
    q "CHECKPOINT"
    [ "$(q "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = lost ] && break
    q "INSERT INTO items SELECT g, repeat('y', 1000) FROM generate_series(900000 + $RANDOM * 10, 900000 + $RANDOM * 10 + 9) g ON CONFLICT DO NOTHING"
    q "SELECT pg_switch_wal()" >/dev/null
done
expect_eq "$(q "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" lost "wal_status of the slot"
ok "slot $SLOT invalidated"

# ---- the next wal-stream refuses, naming the gap; the window shows it
expect_exit 7 lb wal-stream --repo "$REPO" --pg "$CONNINFO" --slot "$SLOT" --reconnect-timeout 0s
expect_one_line_error
expect_in "$ERR" "WAL gap: .*recorded as wal-stream-gaps/" "the error names the recorded gap"
expect_in "$ERR" "new backup" "the error says what to do"
cp "$ERR" "$T/refusal"
[ -n "$(find "$REPO/wal-stream-gaps" -type f 2>/dev/null)" ] || fail "no gap object recorded"
expect_exit 0 lb list --repo "$REPO" --json
jq -e '.window.gap == true and (.window.first_missing_segment | length) == 24' "$OUT" >/dev/null ||
    fail "list --json does not show the gap: $(jq -c .window "$OUT")"
ok "refused: $(cat "$T/refusal"); window: $(jq -c '{gap: .window.gap, first_missing_segment: .window.first_missing_segment}' "$OUT")"

# ---- after a new backup, wal-stream continues; the window from that backup has no gap
q "ALTER SYSTEM RESET archive_command"
q "SELECT pg_reload_conf()" >/dev/null
backup_json
rm -f "$T/stream.pid"
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" \
    --slot "$SLOT" --reconnect-timeout 0s --json >"$T/stream2.out" 2>"$T/stream2.err" &
STREAM_JOB=$!
BG_PIDS+=($STREAM_JOB)
for _ in $(seq 1 100); do [ -s "$T/stream.pid" ] && break; sleep 0.1; done
STREAM_PID=$(cat "$T/stream.pid")
for _ in $(seq 1 300); do
    [ "$(q "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'), false)")" = t ] && break
    kill -0 "$STREAM_PID" 2>/dev/null || { cat "$T/stream2.err" >&2; fail "wal-stream refused after a new backup"; }
    sleep 0.1
done
kill -TERM "$STREAM_PID"
wait "$STREAM_JOB" || fail "wal-stream's status after SIGTERM"
expect_exit 0 lb list --repo "$REPO" --json
jq -e '.window.gap == false' "$OUT" >/dev/null || fail "the window after the new backup: $(jq -c .window "$OUT")"
ok "after a new backup ($BACKUP_ID) wal-stream streams again and the window has no gap"
finish
