#!/usr/bin/env bash
# wal-stream --synchronous (issue 15, item 3): with synchronous_standby_names naming the stream
# (quorum form, ANY 1), a commit returns only once its WAL is stored in the repository, so after
# SIGKILL of the primary, restore --to latest holds every commit acknowledged to the client.
# Also logs the commit latency with and without the synchronous stream.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)"
backup_json
ok "backup $BACKUP_ID"

SLOT=lb_sync
# commit_latency N FIRST_ID: milliseconds per commit over N single-row transactions.
commit_latency() {
    local n=$1 first=$2 started ended
    for i in $(seq 1 "$n"); do echo "INSERT INTO items VALUES ($((first + i)), 'latency');"; done >"$T/latency.sql"
    started=$(date +%s%N)
    as_pg psql -X -q -v ON_ERROR_STOP=1 "$CONNINFO" -f "$T/latency.sql" >/dev/null || fail "latency run failed"
    ended=$(date +%s%N)
    echo "scale=3; ($ended - $started) / 1000000 / $n" | bc
}
ASYNC_MS=$(commit_latency 200 1000000)

as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" \
    --pg "$CONNINFO" --slot "$SLOT" --synchronous --reconnect-timeout 0s --json >"$T/stream.out" 2>"$T/stream.err" &
BG_PIDS+=($!)
STREAM_JOB=$!
for _ in $(seq 1 300); do
    [ -s "$T/stream.pid" ] && [ "$(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$SLOT' AND state = 'streaming'")" = 1 ] && break
    kill -0 "$STREAM_JOB" 2>/dev/null || { cat "$T/stream.err" >&2; fail "wal-stream ended at start"; }
    sleep 0.1
done
expect_eq "$(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$SLOT'")" 1 "wal-stream registered as $SLOT"
# The quorum form: a down repository (no wal-stream) would not stop commits if a replica were
# also listed; here the stream is the only member, so every commit waits for it.
q "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ($SLOT)'"
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 300); do
    [ "$(q "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'")" = quorum ] && break
    sleep 0.1
done
expect_eq "$(q "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'")" quorum "sync_state"
ok "wal-stream is a synchronous (quorum) standby named $SLOT"
SYNC_MS=$(commit_latency 200 2000000)
log "commit latency: ${ASYNC_MS} ms without, ${SYNC_MS} ms with the synchronous stream (local repository)"

# Acknowledged commits, then SIGKILL of the primary in the middle of the burst.
for i in $(seq 1 2000); do
    echo "INSERT INTO items VALUES ($i, 'burst');"
    echo "SELECT $i;"
done >"$T/burst.sql"
as_pg psql -X -A -t -q "$CONNINFO" -f "$T/burst.sql" >"$T/burst.out" 2>/dev/null &
BURST=$!
BG_PIDS+=($BURST)
for _ in $(seq 1 600); do
    [ "$(q "SELECT count(*) FROM items WHERE id <= 2000")" -ge 200 ] && break
    sleep 0.05
done
as_pg "$PGBIN/pg_ctl" -D "$SRC" -m immediate -w stop >/dev/null
wait "$BURST" 2>/dev/null || true
wait "$STREAM_JOB" 2>/dev/null || true
ACKED=$(wc -l <"$T/burst.out")
[ "$ACKED" -gt 0 ] || fail "no commit was acknowledged before the kill"
log "primary killed after $ACKED acknowledged commits"

restore_into "$T/r-latest" --to latest --port "$(free_port)" --start
[ -n "$RESTORED_CONN" ] || fail "restore did not start the instance"
psql_on "$RESTORED_CONN" "SELECT id FROM items WHERE id <= 2000 ORDER BY id" >"$T/restored.ids"
MISSING=$(comm -23 <(sort "$T/burst.out") <(sort "$T/restored.ids") | wc -l)
expect_eq "$MISSING" 0 "acknowledged commits missing from the restore"
ok "restore --to latest holds all $ACKED acknowledged commits ($(wc -l <"$T/restored.ids") restored)"

finish
