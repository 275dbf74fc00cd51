# Made tests/data/repo-v2-logical-capture/, the frozen sample of a postgres-logical backup with a
# captured change log (format 2, change log version 1), once. Kept to show how; never rerun it to
# "fix" the sample (see README.md).
#
#   bash tests/data/make_repo_v2_logical_capture_sample.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

REPO="$T/repo-v2-logical-capture"
lb repo-init --repo "$REPO" >/dev/null
init_source
printf 'archive_mode = off\nwal_level = logical\nlogical_decoding_work_mem = 64kB\n' >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION"
q "CREATE TABLE frozen (id int PRIMARY KEY, note text NOT NULL); CREATE SEQUENCE frozen_seq"
q "INSERT INTO frozen SELECT g, 'row ' || g FROM generate_series(1, 1000) g"
q "GRANT SELECT ON frozen TO lbrep; GRANT SELECT ON frozen_seq TO lbrep"
expect_exit 0 lb logical-setup --pg "$CONNINFO" --apply
REP="host=$T port=$SRC_PORT user=lbrep dbname=postgres"
CONNINFO=$REP backup_json --source-kind postgres-logical --tag purpose=frozen-v2-logical-capture-sample
CONNINFO=$SRC_CONN
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/pid" "$LB" capture --repo "$REPO" --pg "$REP" \
    --source-kind postgres-logical >"$T/capture.out" 2>&1 &
for i in $(seq 1 100); do [ -s "$T/pid" ] && break; sleep 0.1; done
for i in $(seq 1 100); do [ "$(q "SELECT active FROM pg_replication_slots")" = t ] && break; sleep 0.1; done
q "INSERT INTO frozen SELECT g, 'captured ' || g FROM generate_series(1001, 1100) g; SELECT nextval('frozen_seq')" >/dev/null
sleep 2
q "UPDATE frozen SET note = 'updated' WHERE id <= 10; DELETE FROM frozen WHERE id = 1100" >/dev/null
q "ALTER TABLE frozen ADD COLUMN extra int" >/dev/null
q "INSERT INTO frozen SELECT g, repeat(md5(g::text), 20), g FROM generate_series(2001, 3000) g" >/dev/null
sleep 2
kill -TERM "$(cat "$T/pid")"
wait
stop_server "$SRC"
mkdir -p "$OUTDIR"
rm -rf "$REPO/locks" "$REPO/tmp"
cp -a "$REPO" "$OUTDIR/"
log "sample in $OUTDIR"
