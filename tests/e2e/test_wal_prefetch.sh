#!/usr/bin/env bash
# wal-fetch's prefetch: after handing over one segment it starts a detached process (this binary
# again, spawned, not forked) that fills the spool beside the destination with the next segments,
# complete and identical to the archived ones; the next wal-fetch takes its segment from there.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int, payload text)"
backup_json
SEGMENTS=()
for i in 1 2 3 4; do
    q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g"
    SEGMENTS+=("$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")")
    switch_wal_and_wait
done

WAL="$T/fetch/pg_wal"
as_pg mkdir -p "$WAL"
FIRST=${SEGMENTS[0]}
expect_exit 0 lb wal-fetch "$FIRST" "$WAL/$FIRST" --repo "$REPO" --prefetch 3
SPOOL="$WAL/lifeboat-prefetch"
# The event: the spool holds the next three segments (files appear there only once complete).
for _ in $(seq 1 600); do
    n=0
    for seg in "${SEGMENTS[@]:1:3}"; do [ -f "$SPOOL/$seg" ] && n=$((n + 1)); done
    [ "$n" = 3 ] && break
    sleep 0.1
done
[ "$n" = 3 ] || { ls -la "$SPOOL" >&2 || true; fail "the prefetcher did not spool the next segments"; }
# The next fetch takes its segment from the spool, identical to the archived one.
SECOND=${SEGMENTS[1]}
expect_exit 0 lb wal-fetch "$SECOND" "$WAL/$SECOND" --repo "$REPO" --prefetch 0
[ ! -e "$SPOOL/$SECOND" ] || fail "$SECOND was not taken from the spool"
expect_exit 0 lb wal-fetch "$SECOND" "$T/direct" --repo "$REPO" --prefetch 0
cmp "$WAL/$SECOND" "$T/direct" || fail "the spooled $SECOND differs from the archived one"

# A wal-fetch that misses a segment the running prefetcher has planned waits for it instead of
# fetching it a second time: with the spool's lock held and a plan naming THIRD, a wal-fetch of
# THIRD from a repository that cannot even be opened succeeds once THIRD lands in the spool.
THIRD=${SEGMENTS[2]}
expect_exit 0 lb wal-fetch "$THIRD" "$T/third" --repo "$REPO" --prefetch 0
as_pg rm -f "$SPOOL/$THIRD"
echo "$THIRD" | as_pg tee "$SPOOL/.plan" >/dev/null
# The lock holder reads a pipe until this script closes its end (fd 8).
mkfifo "$T/release"
chmod 666 "$T/release"
exec 8<>"$T/release"
as_pg flock "$SPOOL/.lock" cat "$T/release" >/dev/null 2>&1 8>&- &
HOLDER=$!
BG_PIDS+=("$HOLDER")
for _ in $(seq 1 600); do as_pg flock -n "$SPOOL/.lock" true || break; sleep 0.1; done
as_pg "$LB" wal-fetch "$THIRD" "$WAL/$THIRD" --repo "$T/no-such-repository" --prefetch 0 \
    >"$T/waiting.out" 2>&1 &
FETCH=$!
BG_PIDS+=("$FETCH")
# The event: the fetch sleeps in its wait loop (clock_nanosleep, system call 230) rather than
# having failed at once for want of a repository. What was started in the background is a
# subshell whose descendants (the account switch, then lifeboat) may not have started yet on a
# loaded machine: look at all of them until the subshell has ended.
descendants() {  # PID: PID and every process below it
    local pid
    echo "$1"
    for pid in $(pgrep -P "$1" || true); do descendants "$pid"; done
}
waiting=""
for _ in $(seq 1 600); do
    for pid in $(descendants "$FETCH"); do
        [ "$(cut -d' ' -f1 "/proc/$pid/syscall" 2>/dev/null)" = 230 ] && waiting=1
    done
    [ -n "$waiting" ] && break
    kill -0 "$FETCH" 2>/dev/null || break
    sleep 0.05
done
[ -n "$waiting" ] || { cat "$T/waiting.out" >&2; fail "wal-fetch did not wait for the planned segment"; }
as_pg cp "$T/third" "$SPOOL/.incoming"
as_pg mv "$SPOOL/.incoming" "$SPOOL/$THIRD"
wait "$FETCH" || { cat "$T/waiting.out" >&2; fail "wal-fetch of a planned segment failed"; }
cmp "$WAL/$THIRD" "$T/third" || fail "the waited-for $THIRD differs from the archived one"
exec 8>&-
wait "$HOLDER" || true
ok "a miss of a planned segment waits for the prefetcher instead of fetching it again"

# In a data directory whose recovery is over (no recovery.signal), a prefetcher fetches nothing
# and removes the spool: nothing asks for those segments any more.
DATA="$T/over"
as_pg mkdir -p "$DATA/pg_wal"
echo 15 | as_pg tee "$DATA/PG_VERSION" >/dev/null
expect_exit 0 lb wal-fetch "$FIRST" "$DATA/pg_wal/$FIRST" --repo "$REPO" --prefetch 3
for _ in $(seq 1 600); do
    [ -d "$DATA/pg_wal/lifeboat-prefetch" ] || break
    sleep 0.1
done
[ ! -d "$DATA/pg_wal/lifeboat-prefetch" ] || fail "a prefetcher after the end of recovery kept its spool"

# restore --start fetches the backup's WAL into the spool itself once the files are written
# (log_prefetched: the segments from the backup's start on, all four here), and returns only
# once nothing writes into the restored directory any more.
DIR="$T/restored"
expect_exit 0 lb restore --repo "$REPO" --to latest --target-dir "$DIR" --port "$(free_port)" \
    --start --json
[ ! -e "$DIR/pg_wal/lifeboat-prefetch" ] || fail "restore --start left the prefetch spool behind"
[ "$(jq -r .log_prefetched "$OUT")" -ge 4 ] ||
    fail "restore --start fetched $(jq -r .log_prefetched "$OUT") segments ahead, expected at least 4"
expect_eq "$(psql_on "$(jq -r .conninfo "$OUT")" "SELECT count(*) FROM t")" 4000 "rows restored"
ls "$DIR/pg_wal" | grep -q '\.tmp\.' && fail "a temporary file was left in pg_wal"
stop_server "$DIR"

# PostgreSQL reads a segment waiting in pg_wal, marked archived, without restore_command
# delivering it (it logs "restored log file" for each one that does): restore the files only, put
# the archived segments there as the spool does, start the server.
DIR2="$T/restored-files"
PORT2=$(free_port)
expect_exit 0 lb restore --repo "$REPO" --to latest --target-dir "$DIR2" --port "$PORT2" --json
for seg in "${SEGMENTS[@]}"; do
    expect_exit 0 lb wal-fetch "$seg" "$T/$seg" --repo "$REPO" --prefetch 0
    as_pg cp "$T/$seg" "$DIR2/pg_wal/$seg"
    as_pg touch "$DIR2/pg_wal/archive_status/$seg.done"
done
start_server "$DIR2"
wait_promoted "$(conninfo_for "$PORT2")"
expect_eq "$(psql_on "$(conninfo_for "$PORT2")" "SELECT count(*) FROM t")" 4000 "rows restored from pg_wal"
for seg in "${SEGMENTS[@]}"; do
    grep -q "restored log file \"$seg\"" "$DIR2.log" "$DIR2/lifeboat-restore.log" 2>/dev/null &&
        fail "$seg went through restore_command although it waited in pg_wal"
done
stop_server "$DIR2"
ok "the server read the segments waiting in pg_wal without restore_command delivering them"

# The restore_command the restore wrote, run as PostgreSQL runs it (sh -c in the data directory,
# %f and %p expanded), in a data directory under recovery with a prefetcher following it: a segment
# waiting in pg_wal marked archived makes it fail at once (PostgreSQL reads pg_wal next) and note
# the name asked for; an unmarked file there, or none, goes to wal-fetch, which delivers %p.
COMMAND=$(sed -n "s/^restore_command = '\(.*\)'\$/\1/p" "$DIR/postgresql.auto.conf" | sed "s/''/'/g")
[ -n "$COMMAND" ] || fail "no restore_command in $DIR/postgresql.auto.conf"
DATA="$T/recovering"
as_pg mkdir -p "$DATA/pg_wal/archive_status"
echo 15 | as_pg tee "$DATA/PG_VERSION" >/dev/null
as_pg touch "$DATA/recovery.signal" "$DATA/postmaster.pid"
run_restore_command() {  # NAME: the command's exit status
    local command=${COMMAND//%f/$1}
    command=${command//%p/pg_wal\/RECOVERYXLOG}
    (cd "$DATA" && as_pg sh -c "$command" >/dev/null 2>&1) && echo 0 || echo $?
}
expect_eq "$(run_restore_command "$FIRST")" 0 "restore_command of a segment not spooled"
cmp "$DATA/pg_wal/RECOVERYXLOG" "$T/fetch/pg_wal/$FIRST" || fail "restore_command delivered a wrong $FIRST"
as_pg mv "$DATA/pg_wal/RECOVERYXLOG" "$DATA/pg_wal/$FIRST"
for _ in $(seq 1 600); do
    [ -f "$DATA/pg_wal/$THIRD" ] && [ -f "$DATA/pg_wal/archive_status/$THIRD.done" ] && break
    sleep 0.1
done
[ -f "$DATA/pg_wal/archive_status/$THIRD.done" ] || { ls -la "$DATA/pg_wal" >&2; fail "the prefetcher did not put $THIRD in pg_wal, marked archived"; }
cmp "$DATA/pg_wal/$THIRD" "$T/third" || fail "the segment spooled into pg_wal differs from the archived one"
expect_eq "$(run_restore_command "$THIRD")" 1 "restore_command of a segment waiting in pg_wal"
[ ! -e "$DATA/pg_wal/RECOVERYXLOG" ] || fail "restore_command delivered a segment waiting in pg_wal"
expect_eq "$(as_pg cat "$DATA/pg_wal/lifeboat-prefetch/.asked")" "$THIRD" "the name noted as asked for"
# A file in pg_wal without its archive status (one a WAL receiver is writing) is not taken.
as_pg rm "$DATA/pg_wal/archive_status/$THIRD.done"
as_pg truncate -s 100 "$DATA/pg_wal/$THIRD"
expect_eq "$(run_restore_command "$THIRD")" 0 "restore_command of an unmarked file in pg_wal"
cmp "$DATA/pg_wal/RECOVERYXLOG" "$T/third" || fail "an unmarked file in pg_wal was taken for the archived segment"
as_pg rm -f "$DATA/recovery.signal" "$DATA/postmaster.pid"
ok "restore_command: a marked segment in pg_wal fails at once, anything else is fetched"
finish
