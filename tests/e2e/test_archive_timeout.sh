#!/usr/bin/env bash
# A backup whose WAL never reaches the repository (archive_command misconfigured) fails after
# --archive-timeout with exit 5 and records nothing; a server without archiving is refused (8).
source "$(dirname "$0")/lib.sh" "$@"

lb repo-init --repo "$REPO" >/dev/null
init_source
# Misconfigured: archives into a directory that is not a repository, so every wal-push fails.
as_pg mkdir "$T/not-a-repo"
WRONG="'$LB' wal-push %p --repo '$T/not-a-repo'"
echo "archive_command = '${WRONG//\'/\'\'}'" >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE t (id int)"
q "INSERT INTO t SELECT generate_series(1, 1000)"

# The backup must give up after --archive-timeout (5 s). PostgreSQL's pg_backup_stop(true) alone
# would wait for the archiver forever, so allow generous slack, then stop it ourselves.
STARTED=$(date +%s)
RC=0
if [ "$(id -u)" = 0 ]; then
    timeout -k 5 30 runuser -u "$PG_USER" -- "$LB" backup --repo "$REPO" --pg "$CONNINFO" --archive-timeout 5 >"$OUT" 2>"$ERR" || RC=$?
else
    timeout -k 5 30 "$LB" backup --repo "$REPO" --pg "$CONNINFO" --archive-timeout 5 >"$OUT" 2>"$ERR" || RC=$?
fi
ELAPSED=$(( $(date +%s) - STARTED ))
log "backup with a failing archive_command and --archive-timeout 5: exit $RC after $ELAPSED s"
if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
    fail "backup --archive-timeout 5 with a failing archive_command was still running after $ELAPSED s (killed by timeout): the timeout is not honoured"
fi
expect_eq "$RC" 5 "exit status of a backup whose WAL is never archived"
[ "$ELAPSED" -le 20 ] || fail "backup --archive-timeout 5 took $ELAPSED s to give up"
expect_one_line_error
expect_in "$ERR" "within 5 s" "the message should state the timeout"
ok "backup gives up after $ELAPSED s: $(cat "$ERR")"

expect_exit 0 lb list --repo "$REPO" --json
jq -e '.backups | length == 0' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "a backup was recorded although its WAL was never archived"; }
ok "nothing recorded"

# Repaired archiving: the next backup succeeds (the failed one left no backup open on the server).
GOOD="'$LB' wal-push %p --repo '$REPO'"
q "ALTER SYSTEM SET archive_command = '${GOOD//\'/\'\'}'"
q "SELECT pg_reload_conf()" >/dev/null
backup_json --archive-timeout 60
ok "after fixing archive_command, backup $BACKUP_ID succeeds"

# No archiving at all: refused up front.
q "ALTER SYSTEM SET archive_mode = off"
stop_server "$SRC"
start_server "$SRC"
expect_exit 8 lb backup --repo "$REPO" --pg "$CONNINFO"
expect_one_line_error
expect_in "$ERR" "archive_mode" "the message should name archive_mode"
ok "archive_mode = off is refused (8): $(cat "$ERR")"
finish
