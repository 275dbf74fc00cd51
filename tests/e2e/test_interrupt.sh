#!/usr/bin/env bash
# SIGINT and SIGTERM interrupt a command cleanly: it exits 12 with one error line, releases its
# repository lock (an expire right after is not kept waiting), publishes nothing partial (no new
# backup in `list`, `verify` passes, the next backup succeeds; a restore leaves its target empty),
# and a command waiting for a lock stops waiting at once.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, note text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g"
backup_json
FIRST=$BACKUP_ID
switch_wal_and_wait
ok "first backup $FIRST"

# start_lb NAME ARGS...: runs lifeboat as the server's account in the background with stdout and
# stderr in $T/NAME.out / $T/NAME.err; sets LB_PID (lifeboat's own pid, to signal it directly
# rather than the runuser wrapper) and LB_WRAPPER.
start_lb() {
    local name=$1
    shift
    as_pg rm -f "$T/$name.pid"
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/$name.pid" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    LB_WRAPPER=$!
    BG_PIDS+=("$LB_WRAPPER")
    LB_PID=""
    for _ in $(seq 1 500); do
        LB_PID=$(cat "$T/$name.pid" 2>/dev/null || true)
        [ -n "$LB_PID" ] && break
        sleep 0.01
    done
    [ -n "$LB_PID" ] || fail "$name did not start"
    BG_PIDS+=("$LB_PID")
}

# wait_for_match FILE REGEX WHAT: polls (up to 60 s) until FILE matches.
wait_for_match() {
    local file=$1 re=$2 what=$3
    for _ in $(seq 1 600); do
        grep -E -q -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$file" >&2 || true
    fail "timed out waiting for $what"
}

# wait_interrupted NAME SENT_MS: waits for the background command and checks exit 12 and one
# error line naming the interruption; sets ELAPSED_MS (from the signal).
wait_interrupted() {
    local name=$1 sent=$2 rc=0
    wait "$LB_WRAPPER" || rc=$?
    ELAPSED_MS=$(( $(date +%s%3N) - sent ))
    BG_PIDS=()
    [ "$rc" = 12 ] || { cat "$T/$name.err" >&2; fail "$name: expected exit 12 after the signal, got $rc"; }
    # The once-only "waiting for ..." notice of a lock wait is not part of the error.
    grep -v '^lifeboat: waiting for ' "$T/$name.err" >"$ERR" || true
    expect_one_line_error
    expect_in "$T/$name.err" '^lifeboat: error: interrupted: SIG(INT|TERM) received' "$name names the interruption"
}

backups_listed() { lb list --repo "$REPO" --json | jq '.backups | length'; }
locks_held() { find "$REPO/locks" -type f 2>/dev/null | wc -l; }

# 1. SIGINT to a backup that holds its lock (paused after pg_backup_start, no file read yet),
#    and meanwhile an expire waiting for that lock is interrupted too.
for sig in INT TERM; do
    start_lb backup env LIFEBOAT_TEST_STAGE_HOOK=backup:files:pause=120 \
        "$LB" backup --repo "$REPO" --pg "$CONNINFO" --json
    BACKUP_PID=$LB_PID
    BACKUP_WRAPPER=$LB_WRAPPER
    for _ in $(seq 1 600); do
        [ "$(locks_held)" -gt 0 ] && break
        sleep 0.1
    done
    [ "$(locks_held)" -gt 0 ] || fail "the paused backup took no lock"

    if [ "$sig" = INT ]; then
        # An expire waits for the running backup's shared lock; SIGINT ends the wait at once.
        start_lb expire "$LB" expire --repo "$REPO" --retention-window 0 --keep-min 1 --lock-wait 3600
        wait_for_match "$T/expire.err" 'waiting' "expire to report that it waits for the backup"
        sent=$(date +%s%3N)
        kill -INT "$LB_PID"
        wait_interrupted expire "$sent"
        [ "$ELAPSED_MS" -lt 5000 ] || fail "expire took ${ELAPSED_MS} ms to stop waiting after SIGINT"
        ok "SIGINT during expire's lock wait: exit 12 after ${ELAPSED_MS} ms"
    fi

    LB_PID=$BACKUP_PID
    LB_WRAPPER=$BACKUP_WRAPPER
    sent=$(date +%s%3N)
    kill -"$sig" "$LB_PID"
    wait_interrupted backup "$sent"
    [ "$ELAPSED_MS" -lt 10000 ] || fail "backup took ${ELAPSED_MS} ms to stop after SIG$sig"
    expect_eq "$(locks_held)" 0 "locks left after the interrupted backup"
    # The lock is released: an expire right now neither waits nor is refused.
    expect_exit 0 lb expire --repo "$REPO" --retention-window 0 --keep-min 5 --lock-wait 0
    expect_eq "$(backups_listed)" 1 "backups listed after the interrupted backup"
    expect_exit 0 lb verify --repo "$REPO"
    ok "SIG$sig during backup: exit 12 after ${ELAPSED_MS} ms, lock released, nothing listed, verify passes"
done

q "INSERT INTO t SELECT g, 'after' FROM generate_series(10001, 12000) g"
backup_json
SECOND=$BACKUP_ID
switch_wal_and_wait
expect_eq "$(backups_listed)" 2 "backups listed after the next backup"
restore_into "$T/check" --backup "$SECOND" --to consistent
ok "the next backup ($SECOND) succeeds and restores"

# 2. SIGTERM during a restore (its files written, recovery not configured yet): exit 12 and the
#    target directory (made beforehand, empty) is empty again.
as_pg mkdir "$T/target"
start_lb restore env LIFEBOAT_TEST_STAGE_HOOK=restore:settings:pause=120 \
    "$LB" restore --repo "$REPO" --target-dir "$T/target" --to latest
for _ in $(seq 1 600); do
    [ -f "$T/target/PG_VERSION" ] && break
    kill -0 "$LB_PID" 2>/dev/null || break
    sleep 0.1
done
[ -f "$T/target/PG_VERSION" ] || { cat "$T/restore.err" >&2; fail "the restore wrote no files before its pause"; }
sent=$(date +%s%3N)
kill -TERM "$LB_PID"
wait_interrupted restore "$sent"
[ -z "$(ls -A "$T/target")" ] || { ls -la "$T/target" >&2; fail "the interrupted restore left files in its target"; }
expect_eq "$(locks_held)" 0 "locks left after the interrupted restore"
ok "SIGTERM during restore: exit 12 after ${ELAPSED_MS} ms, the target directory is empty again"

expect_exit 0 lb verify --repo "$REPO"
finish
