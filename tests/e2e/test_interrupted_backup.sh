#!/usr/bin/env bash
# A backup killed (SIGKILL) while copying leaves a valid repository: no backup appears, verify
# passes, the source server is unharmed, and the next backup succeeds (adopting the packs the
# killed one published) and restores.
source "$(dirname "$0")/lib.sh" "$@"

start_source
as_pg pgbench -i -s 5 -q "$CONNINFO" >"$T/pgbench-init.log" 2>&1 || { cat "$T/pgbench-init.log" >&2; fail "pgbench -i failed"; }
# pgbench's tables compress to almost nothing; ~40 MB of random bytes make the killed backup
# publish at least one pack (packs close at 32 MiB) before it is killed.
q "CREATE TABLE noise (id int PRIMARY KEY, bytes bytea NOT NULL)"
q "ALTER TABLE noise ALTER COLUMN bytes SET STORAGE EXTERNAL"
q "INSERT INTO noise SELECT g, decode(string_agg(md5(random()::text), ''), 'hex')
   FROM generate_series(1, 2500) g, generate_series(1, 1024) h GROUP BY g"
q "CHECKPOINT"
ok "source: pgbench scale 5 + $(q "SELECT pg_size_pretty(pg_total_relation_size('noise'))") of random bytes"

packs_in() { find "$REPO/data" -type f 2>/dev/null | wc -l; }
tmp_in() { find "$REPO/tmp" -type f 2>/dev/null | wc -l; }

# attempt MODE: starts a backup and SIGKILLs it. MODE "pack": as soon as a pack is published;
# MODE "sleep:S": after S seconds. Sets KILLED=1 when the backup was still running.
attempt() {
    local mode=$1
    as_pg rm -f "$T/backup.pid"
    as_pg bash -c 'echo $$ >"$0/backup.pid"; exec "$@"' "$T" \
        "$LB" backup --repo "$REPO" --pg "$CONNINFO" --jobs 1 --json >"$T/killed.out" 2>"$T/killed.err" &
    local wrapper=$!
    BG_PIDS+=("$wrapper")
    local pid=""
    for _ in $(seq 1 200); do
        pid=$(cat "$T/backup.pid" 2>/dev/null || true)
        [ -n "$pid" ] && break
        sleep 0.01
    done
    [ -n "$pid" ] || fail "the backup did not start"
    BG_PIDS+=("$pid")
    case $mode in
        pack)
            for _ in $(seq 1 2000); do
                [ "$(packs_in)" -gt 0 ] && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.005
            done
            ;;
        sleep:*) sleep "${mode#sleep:}" ;;
    esac
    KILLED=0
    if kill -9 "$pid" 2>/dev/null; then KILLED=1; fi
    wait "$wrapper" 2>/dev/null || true
    BG_PIDS=()    # both are gone: never signal their (reusable) ids again
    KILLED_PID=$pid
}

KILLED=0
for mode in pack sleep:0.8 sleep:0.5 sleep:0.3; do
    attempt "$mode"
    if [ "$KILLED" = 1 ]; then
        log "killed backup pid $KILLED_PID (kill mode $mode): $(packs_in) pack(s) published, $(tmp_in) temporary file(s)"
        break
    fi
    log "the backup finished before the kill (mode $mode); starting over with a new repository"
    # A completed backup must not count: throw the repository away and start again.
    as_pg rm -rf "$REPO"
    lb repo-init --repo "$REPO" >/dev/null
done
[ "$KILLED" = 1 ] || fail "could not kill a backup while it was copying"
[ $(( $(packs_in) + $(tmp_in) )) -gt 0 ] || fail "the killed backup had written nothing yet (no pack, no temporary file)"
PUBLISHED=$(packs_in)
[ ! -s "$T/killed.out" ] || { cat "$T/killed.out" >&2; fail "the killed backup printed a result"; }

expect_exit 0 lb list --repo "$REPO" --json
jq -e '.backups | length == 0' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "list shows a backup after the kill"; }
ok "list: zero backups"
[ -z "$(ls -A "$REPO/backups" 2>/dev/null)" ] || fail "a manifest was published by the killed backup"

expect_exit 0 lb verify --repo "$REPO" --json
jq -e '.ok == true and (.problems | length) == 0' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "verify is not OK after the kill"; }
if [ "$PUBLISHED" -gt 0 ]; then
    jq -e --argjson n "$PUBLISHED" '.unreferenced_packs == $n' "$OUT" >/dev/null ||
        { cat "$OUT" >&2; fail "verify should count the $PUBLISHED pack(s) of the killed backup as unreferenced"; }
fi
expect_exit 0 lb verify --repo "$REPO"
ok "verify passes: $(tail -n 1 "$OUT")"

# The source is unharmed: the killed session's non-exclusive backup ended with its connection.
IN_BACKUP=$(q "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%pg_backup_start%' AND pid <> pg_backend_pid()")
expect_eq "$IN_BACKUP" 0 "sessions still in pg_backup_start"
q "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())"

backup_json --jobs 1
ok "a new backup succeeds: $BACKUP_ID, adopted $(jq .adopted_packs "$OUT") pack(s), $(jq .new_blocks "$OUT") new blocks"
if [ "$PUBLISHED" -gt 0 ]; then
    jq -e --argjson n "$PUBLISHED" '.adopted_packs == $n' "$OUT" >/dev/null ||
        { cat "$OUT" >&2; fail "the new backup should adopt the $PUBLISHED pack(s) the killed one published"; }
fi
if compgen -G "$REPO/tmp/$KILLED_PID-*" >/dev/null; then
    ls -la "$REPO/tmp" >&2
    fail "the killed backup's temporary file (pid $KILLED_PID) is still in $REPO/tmp"
fi
ok "the killed backup's temporary files were cleaned up"

expect_exit 0 lb list --repo "$REPO" --json
jq -e --arg id "$BACKUP_ID" '[.backups[].id] == [$id]' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "list should show exactly backup $BACKUP_ID"; }
expect_exit 0 lb verify --repo "$REPO" --json
jq -e '.ok == true and .unreferenced_packs == 0' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "verify after the new backup"; }
ok "list shows the new backup; verify OK, no unreferenced packs left"

q "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())"
switch_wal_and_wait
restore_into "$T/r1" --to latest --port "$(free_port)" --start
ACCOUNTS=$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM pgbench_accounts")
expect_eq "$ACCOUNTS" 500000 "pgbench_accounts rows after restore"
NOISE=$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM noise")
expect_eq "$NOISE" 2500 "noise rows after restore"
NOISE_SUM=$(psql_on "$RESTORED_CONN" "SELECT md5(string_agg(md5(bytes), '' ORDER BY id)) FROM noise")
expect_eq "$NOISE_SUM" "$(q "SELECT md5(string_agg(md5(bytes), '' ORDER BY id)) FROM noise")" "noise content after restore"
ok "restored to latest: 500000 accounts, noise identical"
stop_server "$T/r1"
finish
