#!/usr/bin/env bash
# wal-stream throughput and the cost of its synchronous mode, against pg_receivewal (issue 15's
# benchmark). One cluster, one pgbench data set (scale SCALE, CLIENTS clients, SECONDS per phase),
# phases in turn:
#   1. asynchronous wal-stream under pgbench: WAL bytes/s the server generated and wal-stream
#      stored (the slot's restart_lsn, which moves only once a chunk is stored), and the bytes
#      behind (pg_current_wal_lsn - restart_lsn) sampled every 0.2 s: average and maximum;
#   2. pgbench with no synchronous standby (the baseline latency);
#   3. wal-stream --synchronous as the only member of synchronous_standby_names = 'ANY 1 (name)';
#   4. pg_receivewal --synchronous to a local directory as the only member, instead.
# Prints a table: tps and pgbench's latency average per phase, and ours / the peer's ratio.
# With S3=1 the repository is a bucket on a throwaway S3 server on loopback (s3rver by default;
# pg_receivewal still writes to a local directory).
#
#   bash bench/wal_stream_throughput.sh /abs/path/to/lifeboat [SECONDS] [CLIENTS] [SCALE]
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
SECONDS_PER_PHASE=${2:-15}
CLIENTS=${3:-4}
SCALE=${4:-10}

if [ "${S3:-0}" = 1 ]; then
    start_s3 lbtp
    REPO="s3://lbtp/tp?endpoint=$S3_ENDPOINT&style=path"
    lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
    init_source
    cat >>"$SRC/postgresql.conf" <<CONF
archive_command = 'AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY ''$LB'' wal-push %p --repo ''$REPO'''
CONF
    start_server "$SRC"
    CONNINFO=$SRC_CONN
else
    start_source
fi
as_pg "$PGBIN/pgbench" -i -q -s "$SCALE" "$CONNINFO" >"$T/pgbench-init.log" 2>&1 || { cat "$T/pgbench-init.log" >&2; fail "pgbench -i"; }
backup_json

SLOT=lb_tp
PEER_SLOT=pgrw_tp
lsn_diff() { q "SELECT pg_wal_lsn_diff('$1', '$2')::bigint"; }
restart_lsn() { q "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$1'"; }
# wait_slot SLOT: until a client streams from the slot
wait_slot() {
    for _ in $(seq 1 300); do
        [ "$(q "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$1'), false)")" = t ] && return 0
        sleep 0.1
    done
    fail "nothing streams from slot $1"
}
# wait_quorum NAME: until the standby of that application_name is a quorum (synchronous) one
wait_quorum() {
    for _ in $(seq 1 300); do
        [ "$(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$1' AND sync_state = 'quorum'")" = 1 ] && return 0
        sleep 0.1
    done
    fail "$1 is not a synchronous standby"
}
set_sync() {
    q "ALTER SYSTEM SET synchronous_standby_names = '$1'"
    q "SELECT pg_reload_conf()" >/dev/null
}
# pgbench_phase NAME: runs pgbench; sets TPS and LAT (ms)
pgbench_phase() {
    as_pg "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_PHASE" "$CONNINFO" >"$T/pgbench-$1.log" 2>&1 ||
        { cat "$T/pgbench-$1.log" >&2; fail "pgbench ($1)"; }
    TPS=$(awk '/^tps = / {print $3}' "$T/pgbench-$1.log")
    LAT=$(awk '/^latency average = / {print $4}' "$T/pgbench-$1.log")
}
start_stream() {
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" \
        --slot "$SLOT" "$@" --json >"$T/stream.out" 2>"$T/stream.err" &
    STREAM_JOB=$!
    BG_PIDS+=($STREAM_JOB)
    for _ in $(seq 1 100); do [ -s "$T/stream.pid" ] && break; sleep 0.1; done
    STREAM_PID=$(cat "$T/stream.pid")
    rm -f "$T/stream.pid"
    wait_slot "$SLOT"
}
stop_stream() {
    kill -TERM "$STREAM_PID"
    wait "$STREAM_JOB" || fail "wal-stream's status after SIGTERM: $(cat "$T/stream.err")"
}

# ---- 1. asynchronous: streamed vs generated, bytes behind
start_stream
W0=$(q "SELECT pg_current_wal_lsn()")
S0=$(restart_lsn "$SLOT")
as_pg "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_PHASE" "$CONNINFO" >"$T/pgbench-async.log" 2>&1 &
LOADER=$!
STARTED=$(date +%s.%N)
: >"$T/behind"
while kill -0 "$LOADER" 2>/dev/null; do
    q "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = '$SLOT'" >>"$T/behind" 2>/dev/null || true
    sleep 0.2
done
wait "$LOADER" || { cat "$T/pgbench-async.log" >&2; fail "pgbench (async)"; }
ELAPSED=$(echo "$(date +%s.%N) - $STARTED" | bc)
W1=$(q "SELECT pg_current_wal_lsn()")
S1=$(restart_lsn "$SLOT")
# What was generated during the load is stored by then (the stream catches up: polled, 60 s).
for _ in $(seq 1 600); do
    [ "$(q "SELECT '$W1'::pg_lsn <= restart_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && break
    sleep 0.1
done
CAUGHT_UP=$(echo "$(date +%s.%N) - $STARTED - $ELAPSED" | bc)
GEN=$(lsn_diff "$W1" "$W0")
STREAMED=$(lsn_diff "$S1" "$S0")
ASYNC_TPS=$(awk '/^tps = / {print $3}' "$T/pgbench-async.log")
ASYNC_LAT=$(awk '/^latency average = / {print $4}' "$T/pgbench-async.log")
BEHIND_AVG=$(awk '{s += $1; n++} END {if (n) printf "%.0f", s / n; else print 0}' "$T/behind")
BEHIND_MAX=$(sort -n "$T/behind" | tail -n 1)
stop_stream
log "asynchronous: generated $GEN bytes, streamed $STREAMED bytes in ${ELAPSED} s; behind avg $BEHIND_AVG max $BEHIND_MAX; caught up ${CAUGHT_UP} s after the load"

# ---- 2. baseline: no synchronous standby
set_sync ''
pgbench_phase none
BASE_TPS=$TPS
BASE_LAT=$LAT

# ---- 3. ours: wal-stream --synchronous
start_stream --synchronous
set_sync "ANY 1 ($SLOT)"
wait_quorum "$SLOT"
pgbench_phase lifeboat
OURS_TPS=$TPS
OURS_LAT=$LAT
set_sync ''
stop_stream

# ---- 4. the peer: pg_receivewal --synchronous to a local directory
mkdir -p "$T/receivewal"
chown "$PG_USER" "$T/receivewal" 2>/dev/null || true
as_pg "$PGBIN/pg_receivewal" --create-slot --slot "$PEER_SLOT" -d "$CONNINFO" >/dev/null 2>&1 || fail "pg_receivewal --create-slot"
as_pg "$PGBIN/pg_receivewal" -D "$T/receivewal" --slot "$PEER_SLOT" --synchronous --no-loop \
    -d "$CONNINFO application_name=pgrw" >"$T/receivewal.log" 2>&1 &
PEER=$!
BG_PIDS+=($PEER)
wait_slot "$PEER_SLOT"
set_sync "ANY 1 (pgrw)"
wait_quorum pgrw
pgbench_phase pg_receivewal
PEER_TPS=$TPS
PEER_LAT=$LAT
set_sync ''
kill -TERM "$PEER" 2>/dev/null || true
wait "$PEER" 2>/dev/null || true

WHERE=local
[ "${S3:-0}" != 1 ] || WHERE="S3 ($S3_SERVER)"
ratio() { echo "scale=2; $1 / $2" | bc; }
echo
echo "WAL streaming, $WHERE repository, pgbench -c $CLIENTS -T $SECONDS_PER_PHASE (scale $SCALE), $(nproc) cores"
printf '| asynchronous | generated | streamed | generated/s | streamed/s | behind avg | behind max | caught up after the load |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
printf '| wal-stream | %s B | %s B | %s MB/s | %s MB/s | %s B | %s B | %s s |\n' "$GEN" "$STREAMED" \
    "$(echo "scale=2; $GEN / $ELAPSED / 1048576" | bc)" "$(echo "scale=2; $STREAMED / $ELAPSED / 1048576" | bc)" \
    "$BEHIND_AVG" "$BEHIND_MAX" "$CAUGHT_UP"
echo
printf '| commit path | tps | latency average (ms) |\n| --- | --- | --- |\n'
printf '| no synchronous standby | %s | %s |\n' "$BASE_TPS" "$BASE_LAT"
printf '| asynchronous wal-stream running | %s | %s |\n' "$ASYNC_TPS" "$ASYNC_LAT"
printf '| wal-stream --synchronous (ours) | %s | %s |\n' "$OURS_TPS" "$OURS_LAT"
printf '| pg_receivewal --synchronous (peer, local directory) | %s | %s |\n' "$PEER_TPS" "$PEER_LAT"
printf '| ours / peer | %s | %s |\n' "$(ratio "$OURS_TPS" "$PEER_TPS")" "$(ratio "$OURS_LAT" "$PEER_LAT")"
finish
