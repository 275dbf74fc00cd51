#!/usr/bin/env bash
# Issue 10, item 6: messages that say what to do. Options before the command are read as after
# it (issue 11, item 6), and one the command does not take is named with the command; a missing
# required option points at the command's --help; a repository the account cannot write names
# its owner and the account; a backup waiting for archiving quotes
# pg_stat_archiver's last failure; a --port already in use is refused before anything is
# written; `pin ../x` is an invalid backup id (usage, not an internal error).
source "$(dirname "$0")/lib.sh" "$@"

start_source
backup_json
ok "backup $BACKUP_ID"

# ---- options before the command: read as after it; one the command does not take is named
expect_exit 0 lb --repo "$REPO" list
expect_in "$OUT" "$BACKUP_ID" "lifeboat --repo R list lists the backup"
expect_exit 2 lb --repo "$REPO" --pg "$CONNINFO" list
expect_one_line_error
expect_in "$ERR" "--pg is not an option of 'list' \(see lifeboat list --help\)" "--pg before list"
if grep -q "not expected" "$ERR"; then fail "CLI11's 'not expected' wording is still shown"; fi
ok "options before the command: $(cat "$ERR")"

# ---- a missing required option points at the command's own --help
expect_exit 2 lb restore --repo "$REPO" --target-dir "$T/nowhere"
expect_one_line_error
expect_in "$ERR" "--to is required.*lifeboat restore --help" "restore without --to"
expect_exit 2 lb backup --repo "$REPO"
expect_one_line_error
expect_in "$ERR" "--pg is required.*lifeboat backup --help" "backup without --pg"
ok "missing options: $(cat "$ERR")"

# ---- pin ../x: an invalid backup id, exit 2 (was an internal error, exit 70)
for bad in "../x" "a/b" ".hidden"; do
    expect_exit 2 lb pin "$bad" --repo "$REPO"
    expect_one_line_error
    expect_in "$ERR" "invalid backup id" "pin $bad"
done
expect_exit 2 lb restore --repo "$REPO" --backup "../x" --to consistent --target-dir "$T/nowhere"
expect_in "$ERR" "invalid backup id" "restore --backup ../x"
[ ! -e "$T/nowhere" ] || fail "restore with an invalid backup id created its target"
ok "invalid backup ids: $(cat "$ERR")"

# ---- a repository the account cannot write names the owner and the account
account=$(as_pg id -un)
RO="$T/readonly-repo"
expect_exit 0 lb repo-init --repo "$RO"
as_pg chmod -R a-w "$RO"
expect_failure lb pin "$BACKUP_ID" --repo "$RO"
expect_one_line_error
expect_in "$ERR" "belongs to $account:.*the account lifeboat runs as.*chmod" "read-only repository"
as_pg chmod -R u+w "$RO"
ok "read-only repository: $(cat "$ERR")"
if [ "$(id -u)" = 0 ]; then
    # Made by root, used by the server's account: the usual mistake.
    ROOTS="$T/root-repo"
    "$LB" repo-init --repo "$ROOTS" >/dev/null
    expect_failure lb list --repo "$ROOTS"
    expect_one_line_error
    expect_in "$ERR" "$ROOTS belongs to root:.* and lifeboat runs as $account: run lifeboat as root" "root's repository"
    expect_failure lb wal-push "$SRC/pg_wal/$(ls "$SRC/pg_wal" | grep -E '^[0-9A-F]{24}$' | head -n 1)" --repo "$ROOTS"
    expect_in "$ERR" "belongs to root:.* and lifeboat runs as $account" "wal-push into root's repository"
    ok "root's repository: $(cat "$ERR")"
fi

# ---- a backup waiting for archiving quotes pg_stat_archiver's last failure
q "ALTER SYSTEM SET archive_command = 'false'"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
expect_exit 5 lb backup --repo "$REPO" --pg "$CONNINFO" --archive-timeout 8
expect_one_line_error
expect_in "$ERR" "pg_stat_archiver: the last archive_command failure was WAL [0-9A-F]{24} at 20[0-9-]+T" \
    "the timeout quotes pg_stat_archiver"
ok "archive wait: $(cat "$ERR")"
q "ALTER SYSTEM RESET archive_command"
q "SELECT pg_reload_conf()" >/dev/null
switch_wal_and_wait

# ---- restore --port N with N taken: refused before anything is written
PORT=$(free_port)
python3 -c "
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT))
s.listen(1)
time.sleep(120)
" &
BG_PIDS+=($!)
for _ in $(seq 1 50); do
    ss -Htln "sport = :$PORT" | grep -q . && break
    sleep 0.1
done
started=$(date +%s%N)
expect_exit 7 lb restore --repo "$REPO" --to consistent --target-dir "$T/taken" --port "$PORT" --start
expect_one_line_error
expect_in "$ERR" "port $PORT is in use.*choose another --port" "restore onto a taken port"
[ ! -e "$T/taken" ] || fail "restore onto a taken port wrote $T/taken"
ok "taken port refused in $(( ($(date +%s%N) - started) / 1000000 )) ms: $(cat "$ERR")"
# A free port still works.
restore_into "$T/free" --to consistent --port "$(free_port)" --start
[ -n "$RESTORED_CONN" ] || fail "restore on a free port did not start"
ok "restore on a free port"

finish
