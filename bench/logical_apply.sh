#!/usr/bin/env bash
# Apply speed of a postgres-logical restore: rows per second applied from the change log into
# the restored database, on one connection and on JOBS (pipelined prepared statements; tables
# spread over the connections). A base backup of four empty tables, then ROWS inserts, ROWS/4
# updates and ROWS/10 deletes in transactions of 1000 rows, each transaction on one table in
# turn; the change log objects are made by the test stand-in for the capture
# (tests/e2e/logical_log.py) and stored with the hidden logical-push. The restore to `latest`
# minus the restore to `consistent` (same base, no change) is the apply time.
#
#   bench/logical_apply.sh [--rows N] [--jobs J] [--lifeboat PATH]   (default 200000 rows, 4 jobs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=200000
jobs=4
lifeboat="$root/build/src/cli/lifeboat"
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) rows=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --lifeboat) lifeboat=$2; shift 2 ;;
        *) echo "usage: bench/logical_apply.sh [--rows N] [--jobs J] [--lifeboat PATH]" >&2; exit 2 ;;
    esac
done
lifeboat=$(cd "$(dirname "$lifeboat")" && pwd)/$(basename "$lifeboat")
cmdline="bench/logical_apply.sh --rows $rows --jobs $jobs"
helper="$root/tests/e2e/logical_log.py"
set -- "$lifeboat"
source "$root/tests/e2e/lib.sh" "$@"
cp "$helper" "$T/bin/logical_log.py"

lb repo-init --repo "$REPO" >/dev/null
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
a() { psql_on "$APP" "$@"; }
for k in 0 1 2 3; do
    a "CREATE TABLE bench$k (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz)
       ; GRANT SELECT ON bench$k TO lbrep" >/dev/null
done
expect_exit 0 lb logical-setup --pg "$APP" --apply
CONNINFO="host=$T port=$SRC_PORT user=lbrep dbname=app" backup_json --source-kind postgres-logical
START=$(jq -r .start_lsn "$OUT")
SLOT=$(a "SELECT slot_name FROM pg_replication_slots")
# The backup's replication connection may still hold the slot for a moment after it returns.
for _ in $(seq 1 600); do
    [ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] && break
    sleep 0.05
done
[ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] ||
    fail "the backup's slot stayed in use"
mkdir -p "$T/objects"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$T/objects"; fi
capture() {
    local line name path end
    line=$(as_pg python3 "$T/bin/logical_log.py" "$APP" "$SLOT" "$START" "$T/objects")
    [ -n "$line" ] || return 0
    read -r name path end <<<"$line"
    expect_exit 0 lb logical-push --repo "$REPO" "$name" "$path"
    START=$end
}

batches=$((rows / 1000))
log "workload: $rows inserts, $((rows / 4)) updates, $((rows / 10)) deletes"
# Transaction i works on table bench(i % 4).
a "DO \$\$ BEGIN FOR i IN 0..$((batches - 1)) LOOP
     EXECUTE format('INSERT INTO bench%s SELECT g, g %% 1000, md5(g::text), now()
                     FROM generate_series(%s, %s) g', i % 4, i * 1000 + 1, i * 1000 + 1000);
     COMMIT; END LOOP; END \$\$" >/dev/null
capture
a "DO \$\$ BEGIN FOR i IN 0..$((batches / 4 - 1)) LOOP
     EXECUTE format('UPDATE bench%s SET a = a + 1, b = b || ''x'' WHERE id > %s AND id <= %s',
                    i % 4, i * 4000, i * 4000 + 1000);
     COMMIT; END LOOP; END \$\$" >/dev/null
capture
a "DO \$\$ BEGIN FOR i IN 0..$((batches / 10 - 1)) LOOP
     EXECUTE format('DELETE FROM bench%s WHERE id > %s AND id <= %s',
                    (i * 10 + 5) % 4, i * 10000 + 5000, i * 10000 + 6000);
     COMMIT; END LOOP; END \$\$" >/dev/null
a "INSERT INTO bench0 VALUES (0, 0, 'marker', now())" >/dev/null
capture
log "workload done"
changes=$((rows + rows / 4 + rows / 10 + 1))
hash_sql="SELECT md5(string_agg(t || b::text || a, '|' ORDER BY t, id)) FROM (
    SELECT 0 t, * FROM bench0 UNION ALL SELECT 1, * FROM bench1
    UNION ALL SELECT 2, * FROM bench2 UNION ALL SELECT 3, * FROM bench3) b"
want=$(a "$hash_sql")

timed_restore() {
    local dir=$1
    shift
    local port
    port=$(free_port)
    DATA_DIRS+=("$dir/pgdata")
    restore_into "$dir" --port "$port" --start "$@"
    SECONDS_TAKEN=$(jq -r .phases.replay_seconds "$OUT")
}
timed_restore "$T/base" --to consistent
base=$SECONDS_TAKEN
as_pg "$PGBIN/pg_ctl" -D "$T/base/pgdata" -m fast -w stop >/dev/null
log "captured; restoring"
report() {
    python3 - "$changes" "$base" "$1" "$cmdline" "$2" <<'PY'
import sys
changes, base, full, cmd, how = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
apply = max(full - base, 1e-6)
print(f"{cmd}: {changes} row changes applied in {apply:.2f} s (restore to latest {full:.2f} s, "
      f"base alone {base:.2f} s): {changes / apply:,.0f} rows/s, {how}")
PY
}
for j in 1 "$jobs"; do
    timed_restore "$T/full$j" --to latest --jobs "$j"
    got=$(psql_on "$RESTORED_CONN" "$hash_sql")
    [ "$got" = "$want" ] || fail "the restored tables differ from the source (--jobs $j)"
    as_pg "$PGBIN/pg_ctl" -D "$T/full$j/pgdata" -m fast -w stop >/dev/null
    rm -rf "$T/full$j"
    report "$SECONDS_TAKEN" "$([ "$j" = 1 ] && echo "one connection" || echo "$j connections")"
done
finish
