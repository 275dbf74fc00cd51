#!/usr/bin/env bash
# Expiry and backups at the same time. A backup running when expire starts: expire waits for it,
# both complete, and the backup restores (its reused blocks were not collected). A backup started
# while expire holds the repository waits for it, then completes and restores. A second expire
# meanwhile is refused at once, naming the holder.
source "$(dirname "$0")/lib.sh" "$@"

start_source
as_pg pgbench -i -s 10 -q "$CONNINFO" >"$T/pgbench-init.log" 2>&1 || { cat "$T/pgbench-init.log" >&2; fail "pgbench -i failed"; }
backup_json
FIRST=$BACKUP_ID
as_pg pgbench -n -T 2 "$CONNINFO" >/dev/null
ACCOUNTS=$(q "SELECT sum(abalance) FROM pgbench_accounts")
POLICY=(--retention-window 0 --keep-min 1)

wait_for_lock() {  # wait_for_lock GLOB: until a lock object matching it exists
    for _ in $(seq 1 200); do
        compgen -G "$REPO/locks/$1" >/dev/null && return 0
        sleep 0.05
    done
    fail "no lock $1 appeared"
}

# 1. A (full, single-worker) backup is running; expire starts and must wait for it.
as_pg "$LB" backup --repo "$REPO" --pg "$CONNINFO" --type full --jobs 1 --json >"$T/b1.json" 2>"$T/b1.err" &
B1=$!
BG_PIDS+=("$B1")
wait_for_lock 'shared-*'
expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --json
expect_in "$ERR" "waiting for backup"
wait "$B1" || { cat "$T/b1.err" >&2; fail "the backup running during expire failed"; }
SECOND=$(jq -r .id "$T/b1.json")
jq -e --arg id "$FIRST" '.expired == [$id]' "$OUT" >/dev/null || fail "expire should have removed only $FIRST: $(cat "$OUT")"
expect_exit 0 lb verify --repo "$REPO"
restore_into "$T/r1" --backup "$SECOND" --to consistent --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT sum(abalance) FROM pgbench_accounts")" "$ACCOUNTS" "balances in the backup that ran during expire"
stop_server "$T/r1"
ok "a backup running while expire starts completes and restores"

# 2. Expire holds the repository (paused after planning); a backup started then waits for it.
as_pg pgbench -n -T 2 "$CONNINFO" >/dev/null
ACCOUNTS=$(q "SELECT sum(abalance) FROM pgbench_accounts")
as_pg env LIFEBOAT_TEST_STAGE_HOOK=plan:pause=4 "$LB" expire --repo "$REPO" "${POLICY[@]}" --json >"$T/e2.json" 2>"$T/e2.err" &
E2=$!
BG_PIDS+=("$E2")
wait_for_lock exclusive
expect_exit 7 lb expire --repo "$REPO" "${POLICY[@]}"
expect_in "$ERR" "locked by expire \\(pid $E2|locked by expire"
expect_one_line_error
STARTED=$(date +%s)
backup_json
THIRD=$BACKUP_ID
WAITED=$(( $(date +%s) - STARTED ))
wait "$E2" || { cat "$T/e2.err" >&2; fail "the paused expire failed"; }
[ "$WAITED" -ge 2 ] || fail "the backup did not wait for expire (took $WAITED s)"
expect_exit 0 lb verify --repo "$REPO"
restore_into "$T/r2" --backup "$THIRD" --to consistent --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT sum(abalance) FROM pgbench_accounts")" "$ACCOUNTS" "balances in the backup that waited for expire"
stop_server "$T/r2"
ok "a backup started while expire holds the repository waits ($WAITED s), completes and restores"
[ -z "$(ls -A "$REPO/locks" 2>/dev/null)" ] || fail "locks left behind: $(ls "$REPO/locks")"
finish
