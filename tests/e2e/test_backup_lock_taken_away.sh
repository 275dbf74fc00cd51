#!/usr/bin/env bash
# A backup whose repository lock was taken away (removed as stale and replaced by another
# process) does not publish its manifest: it re-reads its lock before publishing and stops with
# exit 7, leaving no backup listed. (Without that check it published a backup whose reused blocks
# an expire could have collected meanwhile.)
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY)"
q "INSERT INTO t SELECT g FROM generate_series(1, 1000) g"
switch_wal_and_wait

# Hold archiving back, so the backup waits for its WAL (after copying its files) until the test
# lets it go: the lock is swapped while the backup is certainly still running.
ARCHIVE=$(q "SHOW archive_command")
GATE="$T/archiving-allowed"
q "ALTER SYSTEM SET archive_command = 'test -f ''$GATE'' && ${ARCHIVE//\'/\'\'}'"
q "SELECT pg_reload_conf()" >/dev/null

as_pg "$LB" backup --repo "$REPO" --pg "$CONNINFO" --json >"$T/backup.json" 2>"$T/backup.err" &
BACKUP=$!
BG_PIDS+=("$BACKUP")
for _ in $(seq 1 600); do
    compgen -G "$REPO/locks/shared-*" >/dev/null && break
    sleep 0.05
done
LOCK=$(compgen -G "$REPO/locks/shared-*" | head -n 1)
[ -n "$LOCK" ] || fail "the backup took no lock"
# Another process's lock under the same name: what a host that judged it stale would leave.
jq -c '.token = "0123456789abcdef0123456789abcdef" | .host = "elsewhere" | .pid = 1' "$LOCK" \
    >"$T/foreign.json"
cat "$T/foreign.json" >"$LOCK"
as_pg touch "$GATE"

RC=0
wait "$BACKUP" || RC=$?
if [ "$RC" != 7 ]; then
    cat "$T/backup.err" >&2
    fail "expected the backup to stop with exit 7, got $RC"
fi
expect_in "$T/backup.err" "^lifeboat: error: .*taken away" "the error says the lock was taken away"
[ "$(wc -l <"$T/backup.err")" = 1 ] || { cat "$T/backup.err" >&2; fail "more than one line"; }
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq '.backups | length' "$OUT")" 0 "backups listed"
expect_eq "$(jq -r .host "$LOCK")" elsewhere "the other holder's lock is left alone"
finish
