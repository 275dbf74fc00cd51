#!/usr/bin/env bash
# Incrementals from WAL summaries (docs/operations.md, "Incremental backups"): wal-push summarises
# each segment's block references; an incremental whose previous backup's WAL is summarised reads
# only the blocks of a hot set of pages and restores exactly the source, also when summaries were
# stored incomplete (completed from the archive). A deleted or damaged
# summary makes the next backup fall back to timestamps (and say so); a wrong summary (valid,
# but missing the changed relation) is caught by --verify-unchanged, which then reads every file.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE big (id integer PRIMARY KEY, pad text NOT NULL) WITH (fillfactor = 80)"
q "INSERT INTO big SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 160000) g"
q "VACUUM ANALYZE big"
q "CHECKPOINT"
PAGES=$(q "SELECT pg_relation_size('big') / 8192")
RELFILE=$(q "SELECT pg_relation_filenode('big')")
BIG_BYTES=$(q "SELECT pg_relation_size('big')")
rows_hash() { psql_on "${1:-$CONNINFO}" "SELECT md5(string_agg(id || ':' || pad, ',' ORDER BY id)) FROM big"; }
# Updates the rows on pages [first, first + count): a hot set of pages.
touch_pages() {
    q "UPDATE big SET pad = upper(pad) WHERE (ctid::text::point)[0] >= $1 AND (ctid::text::point)[0] < $(( $1 + $2 ))"
}
switch_wal_and_wait
backup_json
expect_eq "$(jq -r .incremental.method "$OUT")" full "method of the first backup"
[ -n "$(ls "$REPO/wal-summaries/")" ] || fail "wal-push stored no WAL summary"

# 1. A hot set of 1% of the pages changes: the incremental reads about that, not the table.
HOT=$(( PAGES / 100 ))
touch_pages $(( PAGES / 2 )) "$HOT"
q "CHECKPOINT"
switch_wal_and_wait
backup_json
SUMMARISED=$BACKUP_ID
expect_eq "$(jq -r .incremental.method "$OUT")" wal-summaries "method after a hot-set change"
READ=$(jq -r .read_bytes "$OUT")
SKIPPED=$(jq -r .incremental.skipped_blocks "$OUT")
[ "$SKIPPED" -gt 0 ] || fail "the summarised incremental skipped no block"
[ "$READ" -lt $(( BIG_BYTES / 4 )) ] ||
    fail "the summarised incremental read $READ bytes; the table is $BIG_BYTES and $HOT of $PAGES pages changed"
ok "1% of pages ($HOT of $PAGES) changed: read $READ bytes (table $BIG_BYTES), skipped $SKIPPED blocks"
WANT=$(rows_hash)

# The same backup, checked: nothing skipped differs.
backup_json --verify-unchanged
expect_eq "$(jq -r .incremental.mismatched_blocks "$OUT")" 0 "mismatches on a right summary"
[ "$(jq -r .incremental.verified_blocks "$OUT")" -gt 0 ] || fail "--verify-unchanged verified nothing"

# The summarised incremental restores exactly the source.
PORT=$(free_port)
restore_into "$T/r1" --to latest --backup "$SUMMARISED" --start --port "$PORT"
expect_eq "$(rows_hash "$RESTORED_CONN")" "$WANT" "rows of the restored summarised incremental"
stop_server "$T/r1"
ok "the summarised incremental restores the source's rows"

# 1b. Summaries stored incomplete (a push that did not see the next segment's head yet, the
# record crossing into it): the backup completes them from the archive and still reads only the
# hot set.
touch_pages $(( PAGES / 4 )) "$HOT"
q "CHECKPOINT"
switch_wal_and_wait
as_pg python3 "$E2E_DIR/wal_summary_edit.py" mark-incomplete "$REPO"/wal-summaries/* >"$T/marked"
[ "$(cat "$T/marked")" -gt 0 ] || fail "no summary was marked incomplete"
backup_json
expect_eq "$(jq -r .incremental.method "$OUT")" wal-summaries "method with incomplete summaries"
READ=$(jq -r .read_bytes "$OUT")
[ "$READ" -lt $(( BIG_BYTES / 4 )) ] ||
    fail "with summaries marked incomplete the incremental read $READ bytes; the table is $BIG_BYTES"
ok "incomplete summaries are completed from the archive: read $READ bytes"

# 2. A deleted summary: the next backup falls back to timestamps and says why.
touch_pages 10 "$HOT"
SEG=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
switch_wal_and_wait
[ -f "$REPO/wal-summaries/$SEG" ] || fail "no summary for $SEG"
rm "$REPO/wal-summaries/$SEG"
backup_json
expect_eq "$(jq -r .incremental.method "$OUT")" timestamps "method with a summary missing"
expect_in "$OUT" "$SEG has no summary" "the fallback names the missing summary"
ok "a missing summary falls back to timestamps"

# 3. A damaged summary (a flipped byte): the same.
touch_pages 40 "$HOT"
SEG=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
switch_wal_and_wait
printf '\xff' | dd of="$REPO/wal-summaries/$SEG" bs=1 seek=30 conv=notrunc status=none
backup_json
expect_eq "$(jq -r .incremental.method "$OUT")" timestamps "method with a damaged summary"
expect_in "$OUT" "summary of WAL segment $SEG is unreadable" "the fallback names the damaged summary"
# verify names it too (damage, though advisory); removed, nothing else is affected.
expect_exit 6 lb verify --repo "$REPO"
expect_in "$OUT" "^PROBLEM wal-summaries/$SEG: .*read by timestamps" "verify names the damaged summary"
rm "$REPO/wal-summaries/$SEG"
ok "a damaged summary falls back to timestamps, and verify names it"

# 4. A wrong summary (valid, but without the table's blocks): --verify-unchanged reads the
# skipped blocks again, finds them changed, warns and reads every file; the backup is right.
touch_pages 70 "$HOT"
q "CHECKPOINT"
switch_wal_and_wait
as_pg python3 "$E2E_DIR/wal_summary_edit.py" drop-relation "$RELFILE" "$REPO"/wal-summaries/* >"$T/dropped"
[ "$(cat "$T/dropped")" -gt 0 ] || fail "the summaries named no block of the table"
backup_json --verify-unchanged
WRONG=$BACKUP_ID
expect_eq "$(jq -r .incremental.method "$OUT")" full "method after a wrong summary was caught"
[ "$(jq -r .incremental.mismatched_blocks "$OUT")" -gt 0 ] || fail "the wrong summary was not caught"
expect_in "$ERR" "warning: WAL summaries were wrong" "the warning about the wrong summary"
WANT=$(rows_hash)
switch_wal_and_wait
PORT=$(free_port)
restore_into "$T/r2" --to latest --backup "$WRONG" --start --port "$PORT"
expect_eq "$(rows_hash "$RESTORED_CONN")" "$WANT" "rows of the backup taken despite a wrong summary"
stop_server "$T/r2"
ok "a wrong summary is caught by --verify-unchanged and the backup is still right"

expect_exit 0 lb verify --repo "$REPO"
finish
