#!/usr/bin/env bash
# wal-push stores nothing that could never be restored (issue 9, item 7): WAL of another cluster
# (system identifier in the segment's long page header), a segment under another segment's or
# timeline's name, a .history file PostgreSQL cannot parse (which, once stored, would also block
# the right one for ever), a .backup file about another segment. Each is refused with one line,
# nothing is stored, and the right file can still be archived.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, v text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
switch_wal_and_wait
backup_json
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5001, 6000) g"
NAME=$(q "SELECT pg_walfile_name(pg_switch_wal())")
wait_archived "$NAME"
SYSID=$(q "SELECT system_identifier FROM pg_control_system()")
ok "source archiving into the repository (system identifier $SYSID, last segment $NAME)"

count_objects() { find "$REPO/wal" -type f | wc -l; }

# ---- (a) a second cluster archiving into the same repository -----------------------------------
OTHER="$T/other"
OTHER_PORT=$(free_port)
as_pg "$PGBIN/initdb" -D "$OTHER" --auth=trust -U "$PG_USER" >"$T/initdb-other.log" 2>&1 ||
    { cat "$T/initdb-other.log" >&2; fail "initdb of the second cluster failed"; }
# Its WAL starts at a segment number the repository does not hold, so only the system identifier
# can tell its WAL from the source's.
as_pg "$PGBIN/pg_resetwal" -l 000000010000000000000060 -D "$OTHER" >/dev/null
ARCHIVE_COMMAND="'$LB' wal-push %p --repo '$REPO'"
cat >>"$OTHER/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$T'
port = $OTHER_PORT
archive_mode = on
archive_command = '${ARCHIVE_COMMAND//\'/\'\'}'
fsync = off
CONF
start_server "$OTHER"
OTHER_CONN=$(conninfo_for "$OTHER_PORT")
OTHER_SYSID=$(psql_on "$OTHER_CONN" "SELECT system_identifier FROM pg_control_system()")
[ "$OTHER_SYSID" != "$SYSID" ] || fail "the two clusters share a system identifier"
BEFORE=$(count_objects)
OTHER_SEG=$(psql_on "$OTHER_CONN" "SELECT pg_walfile_name(pg_switch_wal())")
FAILED=0
for _ in $(seq 1 100); do
    FAILED=$(psql_on "$OTHER_CONN" "SELECT failed_count FROM pg_stat_archiver")
    [ "$FAILED" -gt 0 ] && break
    sleep 0.1
done
[ "$FAILED" -gt 0 ] || fail "the second cluster's archive_command never failed (failed_count $FAILED)"
expect_eq "$(psql_on "$OTHER_CONN" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" "" \
    "last_archived_wal of the second cluster"
[ ! -e "$REPO/wal/${OTHER_SEG:0:16}/$OTHER_SEG" ] || fail "segment $OTHER_SEG of the other cluster was stored"
expect_eq "$(count_objects)" "$BEFORE" "WAL objects after the other cluster's attempts"
# The same by hand: one line naming both identifiers, exit 7 (conflict).
as_pg cp "$OTHER/pg_wal/$OTHER_SEG" "$T/$OTHER_SEG"
expect_exit 7 lb wal-push --repo "$REPO" "$T/$OTHER_SEG"
expect_one_line_error
expect_in "$ERR" "WAL of another cluster \(system identifier $OTHER_SYSID, repository holds $SYSID\)"
stop_server "$OTHER"
ok "(a) WAL of another cluster refused (archiver failed_count $FAILED, nothing stored): $(cat "$ERR")"

# ---- (b) a segment under another name ----------------------------------------------------------
SEG_DIR="$T/segments"
as_pg mkdir -p "$SEG_DIR"
expect_exit 0 lb wal-fetch --prefetch 0 --repo "$REPO" "$NAME" "$SEG_DIR/$NAME"
for WRONG in 00000001000000000000007F 00000003${NAME:8} 00000002${NAME:8} \
    000000010000000000000077.partial; do
    as_pg cp "$SEG_DIR/$NAME" "$SEG_DIR/$WRONG"
    expect_exit 6 lb wal-push --repo "$REPO" "$SEG_DIR/$WRONG"
    expect_one_line_error
    expect_in "$ERR" "$WRONG"
    [ -z "$(find "$REPO/wal" -name "$WRONG")" ] || fail "$WRONG was stored"
    ok "(b) segment $NAME renamed $WRONG refused: $(cat "$ERR")"
    # (the timeline-2 case runs again below, once a history for timeline 2 is archived)
done

# ---- (c) timeline history files ----------------------------------------------------------------
printf 'garbage\n' | as_pg tee "$T/00000002.history" >/dev/null
expect_exit 6 lb wal-push --repo "$REPO" "$T/00000002.history"
expect_one_line_error
expect_in "$ERR" "00000002.history"
[ ! -e "$REPO/wal/history/00000002.history" ] || fail "a garbage history file was stored"
ok "(c) garbage 00000002.history refused: $(cat "$ERR")"
printf '2\t0/3000000\tnot my parent\n' | as_pg tee "$T/00000002.history" >/dev/null
expect_exit 6 lb wal-push --repo "$REPO" "$T/00000002.history"
expect_one_line_error
ok "(c) a history whose parent is not below its timeline refused: $(cat "$ERR")"
# The right one is archived afterwards (switch point far from $NAME).
printf '1\t0/50000000\tno recovery target specified\n' | as_pg tee "$T/00000002.history" >/dev/null
expect_exit 0 lb wal-push --repo "$REPO" "$T/00000002.history"
[ -e "$REPO/wal/history/00000002.history" ] || fail "the right history file was not stored"
expect_exit 0 lb wal-fetch --repo "$REPO" 00000002.history "$T/fetched.history"
cmp -s "$T/fetched.history" "$T/00000002.history" || fail "the fetched history differs"
ok "(c) the right 00000002.history is archived after the refusals"
# With timeline 2's history archived, a timeline-1 segment under a timeline-2 name is still
# refused: timeline 2 began elsewhere.
WRONG=00000002${NAME:8}
expect_exit 6 lb wal-push --repo "$REPO" "$SEG_DIR/$WRONG"
expect_one_line_error
expect_in "$ERR" "not in this segment"
ok "(b) $WRONG refused with the history present: $(cat "$ERR")"

# ---- (d) backup history files ------------------------------------------------------------------
BACKUP_FILE=$(find "$REPO/wal" -name '*.backup' | head -1)
[ -n "$BACKUP_FILE" ] || fail "the backup's .backup file was not archived"
printf 'hello\n' | as_pg tee "$T/000000010000000000000050.00000028.backup" >/dev/null
expect_exit 6 lb wal-push --repo "$REPO" "$T/000000010000000000000050.00000028.backup"
expect_one_line_error
ok "(d) garbage .backup file refused: $(cat "$ERR")"

# ---- the right files still go in, and the repository is sound ------------------------------------
expect_exit 0 lb wal-push --repo "$REPO" "$SEG_DIR/$NAME"
q "INSERT INTO t SELECT g, 'more' FROM generate_series(6001, 7000) g"
switch_wal_and_wait
expect_eq "$(q "SELECT failed_count FROM pg_stat_archiver")" 0 "the source's archiver failures"
expect_exit 0 lb verify --repo "$REPO"
expect_in "$OUT" "OK"
ok "the source keeps archiving, and verify finds the repository sound"

# ---- a real timeline switch is still archived ----------------------------------------------------
# A restored instance promoted with --archive archives its history file, the .partial of the old
# timeline and segments of timeline 3 that begin with pages of timeline 1 into this repository (it
# is the same cluster). Timeline 2 is taken by the history file archived above, so it picks 3.
# The source stops first, so that its WAL does not interleave.
stop_server "$SRC"
# The test pushed a timeline-2 history above, so "latest" is ambiguous: follow the backup's own.
restore_into "$T/promoted" --to latest --timeline current --start --archive
psql_on "$RESTORED_CONN" "INSERT INTO t SELECT g, 'new timeline' FROM generate_series(7001, 7100) g"
TL=$(psql_on "$RESTORED_CONN" "SELECT timeline_id FROM pg_control_checkpoint()")
switch_wal_and_wait "$RESTORED_CONN"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT failed_count FROM pg_stat_archiver")" 0 \
    "archiver failures of the promoted instance"
HISTORY=$(printf '%08X.history' "$TL")
[ -e "$REPO/wal/history/$HISTORY" ] || fail "$HISTORY of the promoted instance was not archived"
[ -n "$(find "$REPO/wal" -name "$(printf '%08X' "$TL")*" ! -name '*.history')" ] ||
    fail "no segment of timeline $TL was archived"
expect_exit 0 lb verify --repo "$REPO"
ok "a promoted instance archives timeline $TL (history, .partial, switch segment) without a refusal"
finish
