#!/usr/bin/env bash
# Commit-to-stored lag of the postgres-logical capture (issue 14): a PostgreSQL 15 source with
# wal_level = logical, one logical backup, then for each rate of RATES a fresh capture session
# under SECONDS seconds of pgbench (4 clients; each transaction one insert and a nextval; rate 0:
# as fast as it goes), stopped with SIGTERM; prints the pgbench throughput and the lag figures
# capture --json reports (commit time to the object's push_wal returning, per commit).
#
#   bash bench/capture_lag.sh /abs/path/to/lifeboat [SECONDS] [RATES]
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
DURATION=${2:-20}
RATES=${3:-"500 1000 2000 0"}

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
printf 'archive_mode = off\nwal_level = logical\n' >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE TABLE events (id bigint PRIMARY KEY, note text); CREATE SEQUENCE ticket_seq
   ; GRANT SELECT ON events TO lbrep; GRANT SELECT ON ticket_seq TO lbrep" >/dev/null
lb logical-setup --pg "$CONNINFO" --apply >/dev/null || fail "logical-setup failed"
REP="host=$T port=$SRC_PORT user=lbrep dbname=postgres"
CONNINFO=$REP backup_json --source-kind postgres-logical
cat >"$T/load.sql" <<'SQL'
\set id random(1, 2000000000)
INSERT INTO events (id, note) VALUES (:id, 'load') ON CONFLICT DO NOTHING;
SELECT nextval('ticket_seq');
SQL
chown "$PG_USER" "$T/load.sql" 2>/dev/null || true

printf '| pgbench rate | tps | commits stored | p50 lag (s) | p99 lag (s) | max lag (s) |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for rate in $RATES; do
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/pid" "$LB" capture --repo "$REPO" --pg "$REP" \
        --source-kind postgres-logical --json >"$T/capture.json" 2>"$T/capture.err" &
    job=$!
    for i in $(seq 1 100); do [ -s "$T/pid" ] && break; sleep 0.1; done
    pid=$(cat "$T/pid")
    rm -f "$T/pid"
    for i in $(seq 1 300); do [ "$(q "SELECT active FROM pg_replication_slots")" = t ] && break; sleep 0.1; done
    limit=()
    [ "$rate" != 0 ] && limit=(-R "$rate")
    as_pg "$PGBIN/pgbench" -n -c 4 -j 2 "${limit[@]}" -T "$DURATION" -f "$T/load.sql" "$CONNINFO" >"$T/pgbench.log" 2>&1 ||
        fail "pgbench failed: $(tail -n 3 "$T/pgbench.log")"
    # Let the capture catch up with the last commit before stopping it.
    last=$(q "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 1200); do
        [ "$(q "SELECT confirmed_flush_lsn >= '$last' FROM pg_replication_slots")" = t ] && break
        sleep 0.1
    done
    kill -TERM "$pid"
    wait "$job" || fail "capture failed: $(cat "$T/capture.err")"
    tps=$(grep -Eo 'tps = [0-9.]+' "$T/pgbench.log" | head -1 | cut -d' ' -f3)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$([ "$rate" = 0 ] && echo unlimited || echo "$rate")" "$tps" \
        "$(jq -r .lag_seconds.commits "$T/capture.json")" "$(jq -r .lag_seconds.p50 "$T/capture.json")" \
        "$(jq -r .lag_seconds.p99 "$T/capture.json")" "$(jq -r .lag_seconds.max "$T/capture.json")"
done
finish >/dev/null
