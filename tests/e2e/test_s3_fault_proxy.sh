#!/usr/bin/env bash
# Storage faults end to end: an S3 repository reached through a fault proxy on loopback
# (tests/e2e/s3_fault_proxy.py, in front of s3rver) that resets connections, answers 503 SlowDown,
# delays answers and cuts bodies short on a seeded schedule. Backup, wal-push (PostgreSQL's
# archive_command) and restore absorb those transient faults: they succeed and the restored rows
# are the source's. When the server goes away for good (every request reset, from the start or
# in the middle of a command) each command fails with exit 13 (docs/cli.md: storage unavailable
# after retries) and one error line, and nothing partial is visible afterwards.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh" "$@"

SEED=${LIFEBOAT_FAULT_SEED:-12}
start_s3 faults
PROXY_PORT=$(free_port)
CONTROL="$T/proxy.mode"
PROXY_LOG="$T/proxy.log"
echo off >"$CONTROL"
: >"$PROXY_LOG"
chmod 644 "$CONTROL" "$PROXY_LOG"
python3 "$HERE/s3_fault_proxy.py" "$PROXY_PORT" "$S3_ENDPOINT" "$CONTROL" "$PROXY_LOG" \
    "$SEED" 2>"$T/proxy.err" &
BG_PIDS+=($!)
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" || { cat "$T/proxy.err" >&2; fail "the fault proxy did not start"; }
REPO="s3://faults/lb?endpoint=http://127.0.0.1:$PROXY_PORT&style=path"
ROW_HASH="SELECT count(*) || ':' || md5(string_agg(id || pad, ',' ORDER BY id)) FROM t"

faults_so_far() { grep -vc '^pass ' "$PROXY_LOG" || true; }
requests_so_far() { wc -l <"$PROXY_LOG"; }
INJECTED=0
ABSORBED=0
FAILED_CLEANLY=0

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
# The server's archive_command needs the credentials and the proxy's URL.
cat >>"$SRC/postgresql.conf" <<EOF
archive_command = 'AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY ''$LB'' wal-push %p --repo ''$REPO'''
EOF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE t (id int PRIMARY KEY, pad text)"

# ---- transient faults: 5% of requests suffer one; everything succeeds, every row restores.
echo "faults 0.05" >"$CONTROL"
before=$(faults_so_far)
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g"
switch_wal_and_wait
backup_json
FIRST=$BACKUP_ID
FIRST_HASH=$(q "$ROW_HASH")
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(50001, 80000) g"
switch_wal_and_wait
backup_json
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(80001, 90000) g"
LAST_HASH=$(q "$ROW_HASH")
switch_wal_and_wait
restore_into "$T/first" --backup "$FIRST" --to consistent --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "$ROW_HASH")" "$FIRST_HASH" "rows of the first backup, through faults"
stop_server "$T/first"
restore_into "$T/latest" --to latest --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "$ROW_HASH")" "$LAST_HASH" "rows at the latest point, through faults"
stop_server "$T/latest"
echo off >"$CONTROL"
expect_exit 0 lb verify --repo "$REPO"
n=$(( $(faults_so_far) - before ))
[ "$n" -gt 0 ] || fail "the proxy injected no fault"
INJECTED=$((INJECTED + n))
ABSORBED=$((ABSORBED + n))
ok "transient faults: $n injected ($(grep -v '^pass ' "$PROXY_LOG" | cut -d' ' -f1 | sort | uniq -c | tr -s ' \n' ' ')), all absorbed"

# ---- permanent outage: exit 13, one line, nothing partial.
expect_exit 0 lb list --repo "$REPO" --json
BACKUPS=$(jq -c '[.backups[].id]' "$OUT")
SEGMENT=$(find "$SRC/pg_wal" -maxdepth 1 -name '0*' -printf '%f\n' | sort | tail -n 1)
as_pg cp "$SRC/pg_wal/$SEGMENT" "$T/$SEGMENT"
outage() {  # outage WHAT CMD...: the command fails cleanly during an outage
    local what=$1 before
    shift
    before=$(faults_so_far)
    expect_exit 13 "$@"
    expect_one_line_error
    expect_in "$ERR" "unavailable|attempt|reset|connect" "$what: the error says the storage failed"
    INJECTED=$((INJECTED + $(faults_so_far) - before))
    FAILED_CLEANLY=$((FAILED_CLEANLY + 1))
    echo off >"$CONTROL"
    expect_exit 0 lb list --repo "$REPO" --json
    expect_eq "$(jq -c '[.backups[].id]' "$OUT")" "$BACKUPS" "$what: the backups listed"
    ok "$what: exit 13, one line, nothing new visible"
}
echo outage >"$CONTROL"
outage "backup, storage gone" lb backup --repo "$REPO" --pg "$CONNINFO"
echo outage >"$CONTROL"
outage "wal-push, storage gone" lb wal-push "$T/$SEGMENT" --repo "$REPO"
echo outage >"$CONTROL"
outage "restore, storage gone" lb restore --repo "$REPO" --to latest --target-dir "$T/never"
[ ! -e "$T/never" ] || fail "a failed restore left $T/never"

# The storage going away in the middle: a clean backup's requests counted, then cut halfway.
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(90001, 100000) g"
start=$(requests_so_far)
backup_json
CLEAN_REQUESTS=$(( $(requests_so_far) - start ))
expect_exit 0 lb list --repo "$REPO" --json
BACKUPS=$(jq -c '[.backups[].id]' "$OUT")
q "UPDATE t SET pad = md5(pad) WHERE id % 7 = 0"
echo "outage-after $((CLEAN_REQUESTS / 2))" >"$CONTROL"
outage "backup, storage gone after $((CLEAN_REQUESTS / 2)) of $CLEAN_REQUESTS requests" \
    lb backup --repo "$REPO" --pg "$CONNINFO"
echo "outage-after 6" >"$CONTROL"
outage "restore, storage gone after 6 requests" \
    lb restore --repo "$REPO" --to latest --target-dir "$T/never"
[ ! -e "$T/never" ] || fail "a failed restore left $T/never"

# Afterwards, faults off: the repository is sound and the rerun completes.
expect_exit 0 lb verify --repo "$REPO"
backup_json
HASH=$(q "$ROW_HASH")
restore_into "$T/after" --backup "$BACKUP_ID" --to consistent --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "$ROW_HASH")" "$HASH" "rows of the backup rerun after the outages"
stop_server "$T/after"

echo "storage faults through the proxy: $INJECTED injected, $ABSORBED absorbed, $FAILED_CLEANLY commands failed cleanly (exit 13)"
finish
