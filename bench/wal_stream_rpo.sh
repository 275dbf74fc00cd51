#!/usr/bin/env bash
# The RPO of wal-stream (issue 15): KILLS times, under pgbench (4 clients, one insert per
# transaction, each row stamped with clock_timestamp()), SIGKILL the primary (pg_ctl stop -m
# immediate) after LOAD seconds of load, restore --to latest into a new instance while it is
# down, restart it (crash recovery keeps every commit it wrote), and count as lost time the
# newest commit on the recovered primary minus the newest commit in the restore (an upper bound: commits written but
# not yet acknowledged count as lost too). Prints each kill and p50/p99/max over them.
# With KILL_STREAM=1, wal-stream is SIGKILLed just before the primary, as when the host of both
# is lost: what it held in memory is then lost too (without it, wal-stream stores what it
# received when the connection breaks, and a primary killed alone loses almost nothing).
#
#   bash bench/wal_stream_rpo.sh /abs/path/to/lifeboat [KILLS] [LOAD] [FLUSH_INTERVAL] [--synchronous]
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
KILLS=${2:-20}
LOAD=${3:-3}
FLUSH=${4:-200ms}
SYNC=${5:-}

start_source
q "CREATE TABLE events (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp())"
backup_json
if [ -n "$SYNC" ]; then
    q "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (lb_rpo)'"
    q "SELECT pg_reload_conf()" >/dev/null
fi
echo "INSERT INTO events DEFAULT VALUES;" >"$T/load.sql"
chown "$PG_USER" "$T/load.sql" 2>/dev/null || true

LOST=()
for k in $(seq 1 "$KILLS"); do
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" --slot lb_rpo --flush-interval "$FLUSH" \
        $SYNC --json >"$T/stream-$k.json" 2>"$T/stream-$k.err" &
    STREAM=$!
    for _ in $(seq 1 300); do
        [ "$(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'lb_rpo' OR application_name = ''")" -ge 1 ] &&
            [ "$(q "SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = 'lb_rpo'")" = t ] && break
        sleep 0.1
    done
    as_pg "$PGBIN/pgbench" -n -c 4 -T 600 -f "$T/load.sql" "$CONNINFO" >"$T/pgbench-$k.log" 2>&1 &
    LOADER=$!
    sleep "$LOAD"  # the load phase (a benchmark's duration, not a wait for an event)
    if [ "${KILL_STREAM:-0}" = 1 ]; then kill -9 "$(cat "$T/stream.pid")"; fi
    as_pg "$PGBIN/pg_ctl" -D "$SRC" -m immediate -w stop >/dev/null
    wait "$LOADER" 2>/dev/null || true
    wait "$STREAM" 2>/dev/null || true
    # Restored while the primary is down: once it is back, archive_command would archive the
    # segment its crash recovery completes, and the restore would find the lost tail there.
    DIR="$T/r-$k"
    restore_into "$DIR" --to latest --port "$(free_port)" --start
    RESTORED=$(psql_on "$RESTORED_CONN" "SELECT coalesce(extract(epoch FROM max(ts)), 0) FROM events")
    start_server "$SRC"
    NEWEST=$(q "SELECT extract(epoch FROM max(ts)) FROM events")
    as_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m immediate -w stop >/dev/null 2>&1 ||
        as_pg "$PGBIN/pg_ctl" -D "$DIR" -m immediate -w stop >/dev/null 2>&1 || true
    [ -n "${DEBUG:-}" ] || rm -rf "$DIR"
    L=$(echo "scale=6; $NEWEST - $RESTORED" | bc)
    [ -n "${DEBUG:-}" ] && log "newest $NEWEST ($(q "SELECT count(*) FROM events") rows), restored $RESTORED"
    LOST+=("$L")
    log "kill $k: lost ${L} s of commits"
done
SORTED=$(printf '%s\n' "${LOST[@]}" | sort -n)
rank() { local n=${#LOST[@]} r; r=$(echo "($1 * $n + 0.999999)/1" | bc); [ "$r" -lt 1 ] && r=1; echo "$SORTED" | sed -n "${r}p"; }
printf '| flush interval | mode | wal-stream killed too | kills | p50 lost (s) | p99 lost (s) | max lost (s) |\n| --- | --- | --- | --- | --- | --- | --- |\n'
printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$FLUSH" "${SYNC:-asynchronous}" "${KILL_STREAM:-0}" "$KILLS" "$(rank 0.5)" "$(rank 0.99)" "$(echo "$SORTED" | tail -n 1)"
finish
