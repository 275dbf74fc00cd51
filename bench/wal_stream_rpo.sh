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
# wal-stream runs with --reconnect-timeout 0s: when the primary goes away it stores what it
# received and exits at once, instead of trying to reconnect for a minute.
# With S3=1 the repository is a bucket on a throwaway S3 server on loopback (start_s3: s3rver by
# default, LIFEBOAT_S3_SERVER=rgw for the RADOS Gateway), archive_command included.
# With --synchronous, one more client inserts rows one commit at a time and prints each id once
# its commit returned: after each kill, every such acknowledged id must be in the restore (the
# table's "acknowledged missing" column; lost time then counts commits written but never
# acknowledged).
#
#   bash bench/wal_stream_rpo.sh /abs/path/to/lifeboat [KILLS] [LOAD] [FLUSH_INTERVAL] [--synchronous]
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
KILLS=${2:-20}
LOAD=${3:-3}
FLUSH=${4:-200ms}
SYNC=${5:-}

if [ "${S3:-0}" = 1 ]; then
    start_s3 lbrpo
    REPO="s3://lbrpo/rpo?endpoint=$S3_ENDPOINT&style=path"
    lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
    init_source
    cat >>"$SRC/postgresql.conf" <<EOF
archive_command = 'AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY ''$LB'' wal-push %p --repo ''$REPO'''
EOF
    start_server "$SRC"
    CONNINFO=$SRC_CONN
else
    start_source
fi
q "CREATE TABLE events (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp())"
backup_json
if [ -n "$SYNC" ]; then
    q "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (lb_rpo)'"
    q "SELECT pg_reload_conf()" >/dev/null
fi
echo "INSERT INTO events DEFAULT VALUES;" >"$T/load.sql"
chown "$PG_USER" "$T/load.sql" 2>/dev/null || true
for i in $(seq 1 200000); do echo "INSERT INTO events DEFAULT VALUES RETURNING id;"; done >"$T/acked.sql"
chown "$PG_USER" "$T/acked.sql" 2>/dev/null || true
MISSING_ACKED=0
ACKED_TOTAL=0

LOST=()
for k in $(seq 1 "$KILLS"); do
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" --slot lb_rpo --flush-interval "$FLUSH" --reconnect-timeout 0s \
        $SYNC --json >"$T/stream-$k.json" 2>"$T/stream-$k.err" &
    STREAM=$!
    for _ in $(seq 1 300); do
        [ "$(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'lb_rpo' OR application_name = ''")" -ge 1 ] &&
            [ "$(q "SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = 'lb_rpo'")" = t ] && break
        sleep 0.1
    done
    as_pg "$PGBIN/pgbench" -n -c 4 -T 600 -f "$T/load.sql" "$CONNINFO" >"$T/pgbench-$k.log" 2>&1 &
    LOADER=$!
    ACKER=
    if [ -n "$SYNC" ]; then
        as_pg psql -X -A -t -q "$CONNINFO" -f "$T/acked.sql" >"$T/acked-$k.out" 2>/dev/null &
        ACKER=$!
    fi
    sleep "$LOAD"  # the load phase (a benchmark's duration, not a wait for an event)
    if [ "${KILL_STREAM:-0}" = 1 ]; then kill -9 "$(cat "$T/stream.pid")"; fi
    as_pg "$PGBIN/pg_ctl" -D "$SRC" -m immediate -w stop >/dev/null
    wait "$LOADER" 2>/dev/null || true
    [ -z "$ACKER" ] || wait "$ACKER" 2>/dev/null || true
    wait "$STREAM" 2>/dev/null || true
    # Restored while the primary is down: once it is back, archive_command would archive the
    # segment its crash recovery completes, and the restore would find the lost tail there.
    DIR="$T/r-$k"
    restore_into "$DIR" --to latest --port "$(free_port)" --start
    RESTORED=$(psql_on "$RESTORED_CONN" "SELECT coalesce(extract(epoch FROM max(ts)), 0) FROM events")
    if [ -n "$SYNC" ]; then
        psql_on "$RESTORED_CONN" "SELECT id FROM events ORDER BY id" >"$T/restored-$k.ids"
        M=$(comm -23 <(sort "$T/acked-$k.out") <(sort "$T/restored-$k.ids") | wc -l)
        A=$(wc -l <"$T/acked-$k.out")
        MISSING_ACKED=$((MISSING_ACKED + M))
        ACKED_TOTAL=$((ACKED_TOTAL + A))
        log "kill $k: $A commits acknowledged to the one-at-a-time client, $M of them missing from the restore"
    fi
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
ACKED_COLUMN="-"
[ -z "$SYNC" ] || ACKED_COLUMN="$MISSING_ACKED of $ACKED_TOTAL"
WHERE=local
[ "${S3:-0}" != 1 ] || WHERE="S3 ($S3_SERVER)"
printf '| repository | flush interval | mode | wal-stream killed too | kills | p50 lost (s) | p99 lost (s) | max lost (s) | acknowledged missing |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$WHERE" "$FLUSH" "${SYNC:-asynchronous}" "${KILL_STREAM:-0}" "$KILLS" "$(rank 0.5)" "$(rank 0.99)" "$(echo "$SORTED" | tail -n 1)" "$ACKED_COLUMN"
finish
