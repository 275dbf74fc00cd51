#!/usr/bin/env bash
# wal-stream (issue 15): WAL streamed over a physical slot is stored as chunks within about a
# second of a commit; SIGKILL of wal-stream loses nothing stored and a restart continues where
# the chunks end; a completed segment is stitched into its segment object (alongside
# archive_command, which stores the same segment: duplicates are recognised by content) and its
# chunks are deleted; after SIGKILL of the primary, restore --to latest holds every commit whose
# WAL the stream had reported flushed.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)"
backup_json
ok "backup $BACKUP_ID"

SLOT=lb_stream
STREAMS=0
# start_stream: wal-stream in the background; STREAM_PID is lifeboat's own pid.
start_stream() {
    STREAMS=$((STREAMS + 1))
    STREAM_OUT="$T/stream-$STREAMS.out"
    STREAM_ERR="$T/stream-$STREAMS.err"
    as_pg env ${STREAM_ENV:-} bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" \
        --pg "$CONNINFO" --slot "$SLOT" --reconnect-timeout 0s --json "$@" >"$STREAM_OUT" 2>"$STREAM_ERR" &
    BG_PIDS+=($!)
    STREAM_JOB=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$T/stream.pid" ] && break
        sleep 0.1
    done
    STREAM_PID=$(cat "$T/stream.pid")
    rm -f "$T/stream.pid"
    for i in $(seq 1 300); do
        [ "$(q "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && return 0
        kill -0 "$STREAM_PID" 2>/dev/null || { cat "$STREAM_ERR" >&2; fail "wal-stream ended at start"; }
        sleep 0.1
    done
    fail "wal-stream did not start streaming"
}
# flushed: the position wal-stream last reported stored (the physical slot's restart_lsn).
flushed() { q "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
lsn_le() { [ "$(q "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" = t ]; }
# wait_flushed LSN [seconds]: until the slot's restart_lsn reaches LSN; prints the seconds waited.
wait_flushed() {
    local lsn=$1 limit=${2:-60} started waited
    started=$(date +%s.%N)
    while ! lsn_le "$lsn" "$(flushed)"; do
        waited=$(echo "$(date +%s.%N) - $started" | bc)
        if [ "$(echo "$waited > $limit" | bc)" = 1 ]; then
            cat "$STREAM_ERR" >&2
            fail "WAL up to $lsn not reported stored after ${limit} s (at $(flushed))"
        fi
        sleep 0.02
    done
    echo "$(date +%s.%N) - $started" | bc
}
chunks() { (cd "$REPO/wal" && find stream -type f 2>/dev/null | sort); }

# ---- 1. a commit is stored within about a second
start_stream
expect_eq "$(q "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '$SLOT'")" physical "slot type"
q "INSERT INTO items VALUES (1, 'first streamed')"
LSN=$(q "SELECT pg_current_wal_insert_lsn()")
SECONDS_TO_STORE=$(wait_flushed "$LSN" 30)
log "a commit was stored and reported after $SECONDS_TO_STORE s"
[ "$(echo "$SECONDS_TO_STORE < 1.5" | bc)" = 1 ] || defer_fail "a commit took $SECONDS_TO_STORE s to be stored (want about 1 s at a 200 ms flush interval)"
chunks >"$T/chunks1"
[ -s "$T/chunks1" ] || fail "no chunk object under wal/stream"
expect_in "$T/chunks1" '^stream/[0-9A-F]{24}/[0-9A-F]{8}-[0-9A-F]{8}$' "chunk names"
ok "a commit is stored within $SECONDS_TO_STORE s: $(wc -l <"$T/chunks1") chunk(s)"

# ---- 2. SIGKILL of wal-stream loses nothing stored; a restart continues after the chunks
(cd "$REPO/wal" && sha256sum $(cat "$T/chunks1")) >"$T/chunks1.sha"
kill -9 "$STREAM_PID"
wait "$STREAM_JOB" 2>/dev/null || true
for _ in $(seq 1 300); do
    [ "$(q "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] && break
    sleep 0.1
done
q "INSERT INTO items VALUES (2, 'while wal-stream was down')"
LSN=$(q "SELECT pg_current_wal_insert_lsn()")
start_stream
wait_flushed "$LSN" 30 >/dev/null
(cd "$REPO/wal" && sha256sum -c --quiet "$T/chunks1.sha") || fail "chunks stored before the SIGKILL changed"
chunks >"$T/chunks2"
# Contiguous: every chunk after the first of its segment starts where another one ends.
PREV_SEG="" PREV_END=""
while IFS=/ read -r _ seg range; do
    if [ "$seg" = "$PREV_SEG" ] && [ "${range%-*}" != "$PREV_END" ]; then
        fail "the chunks after the restart do not continue the stored ones: $(cat "$T/chunks2")"
    fi
    PREV_SEG=$seg PREV_END=${range#*-}
done <"$T/chunks2"
[ "$(wc -l <"$T/chunks2")" -gt "$(wc -l <"$T/chunks1")" ] || fail "no chunk stored after the restart"
ok "after SIGKILL, the stored chunks are intact and a restart continues: $(wc -l <"$T/chunks2") chunk(s)"

# ---- 3. a completed segment is stitched (archive_command stores it too) and its chunks go
SEG=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
q "SELECT pg_switch_wal()" >/dev/null
q "INSERT INTO items VALUES (3, 'after the switch')"
wait_flushed "$(q "SELECT pg_current_wal_insert_lsn()")" 30 >/dev/null
wait_archived "$SEG"
for _ in $(seq 1 300); do
    [ -z "$(find "$REPO/wal/stream/$SEG" -type f 2>/dev/null)" ] && break
    sleep 0.1
done
[ -f "$REPO/wal/${SEG:0:16}/$SEG" ] || fail "segment $SEG is not stored as a segment object"
[ -z "$(find "$REPO/wal/stream/$SEG" -type f 2>/dev/null)" ] || fail "the chunks of $SEG were not deleted"
expect_eq "$(q "SELECT failed_count FROM pg_stat_archiver")" 0 "archive_command failures"
ok "segment $SEG stitched, its chunks deleted, archive_command's copy accepted as the same"

# SIGTERM flushes and ends with status 0 and the summary.
kill -TERM "$STREAM_PID"
RC=0
wait "$STREAM_JOB" || RC=$?
expect_eq "$RC" 0 "wal-stream's status after SIGTERM"
jq -e '.segments_stitched >= 1 and .chunks >= 1' "$STREAM_OUT" >/dev/null ||
    fail "summary: $(cat "$STREAM_OUT")"
STITCHED=$(jq -r '"\(.segments_stitched) stitched, \(.segments_already_archived) already archived"' "$STREAM_OUT")
ok "SIGTERM: status 0, summary $STITCHED"

# ---- 3b. killed between a segment's last chunk and its stitching: the next run stitches it
STREAM_ENV="LIFEBOAT_TEST_STAGE_HOOK=wal-stream:stitch:kill" start_stream
SEG=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
q "SELECT pg_switch_wal()" >/dev/null
q "INSERT INTO items VALUES (4, 'after the second switch')"
for _ in $(seq 1 300); do kill -0 "$STREAM_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$STREAM_PID" 2>/dev/null && fail "wal-stream did not reach the stitching of $SEG"
wait "$STREAM_JOB" 2>/dev/null || true
[ -n "$(find "$REPO/wal/stream/$SEG" -type f 2>/dev/null)" ] || fail "no chunks of $SEG left by the killed run"
for _ in $(seq 1 300); do
    [ "$(q "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] && break
    sleep 0.1
done
start_stream
for _ in $(seq 1 300); do
    [ -z "$(find "$REPO/wal/stream/$SEG" -type f 2>/dev/null)" ] && break
    sleep 0.1
done
[ -z "$(find "$REPO/wal/stream/$SEG" -type f 2>/dev/null)" ] || fail "the chunks of $SEG were not stitched by the next run"
[ -f "$REPO/wal/${SEG:0:16}/$SEG" ] || fail "segment $SEG is not stored after the restart"
kill -TERM "$STREAM_PID"
wait "$STREAM_JOB" || fail "wal-stream's status after SIGTERM"
ok "a run killed before stitching $SEG: the next run stitched it and deleted its chunks"

# ---- 4. SIGKILL of the primary; restore --to latest holds every commit reported stored
start_stream
START_BURST=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
# One transaction per row; after each commit, the position after it (>= the commit's end).
for i in $(seq 100 1099); do
    echo "INSERT INTO items VALUES ($i, 'burst');"
    echo "SELECT $i, pg_current_wal_insert_lsn(), pg_sleep(0.003);"
done >"$T/burst.sql"
L0=$(q "SELECT pg_current_wal_insert_lsn()")
as_pg psql -X -A -t -q -F ' ' "$CONNINFO" -f "$T/burst.sql" >"$T/burst.out" 2>/dev/null &
BURST=$!
BG_PIDS+=($BURST)
# Until the stream has stored part of the burst (100 kB of its WAL), while it goes on.
wait_flushed "$(q "SELECT '$L0'::pg_lsn + 100000")" 60 >/dev/null
F=$(flushed)
as_pg "$PGBIN/pg_ctl" -D "$SRC" -m immediate -w stop >/dev/null
wait "$BURST" 2>/dev/null || true
wait "$STREAM_JOB" 2>/dev/null || true
WRITTEN=$(wc -l <"$T/burst.out")
STORED_IDS="$T/stored.ids"
# Which rows were stored: their after-commit position is at or before F.
lsn_value() { echo $(( (16#${1%/*} << 32) + 16#${1#*/} )); }
FV=$(lsn_value "$F")
while read -r id lsn _; do
    [ "$(lsn_value "$lsn")" -le "$FV" ] && echo "$id"
done <"$T/burst.out" >"$STORED_IDS"
NSTORED=$(wc -l <"$STORED_IDS")
log "primary killed after $WRITTEN acknowledged commits; $NSTORED of them at or before the reported flush position $F"
[ "$NSTORED" -gt 0 ] || fail "no commit of the burst was reported stored before the kill"

expect_exit 0 lb list --repo "$REPO" --json
LATEST=$(jq -r .window.latest "$OUT")
[ "$LATEST" != null ] || fail "no restorable window: $(cat "$OUT")"
[[ "$LATEST" > "$START_BURST" ]] || fail "the window ends at $LATEST, before the burst ($START_BURST): streamed chunks not counted"
ok "the restorable window ends at $LATEST (burst began $START_BURST)"

restore_into "$T/r-latest" --to latest --port "$(free_port)" --start
[ -n "$RESTORED_CONN" ] || fail "restore did not start the instance"
psql_on "$RESTORED_CONN" "SELECT id FROM items WHERE id >= 100 ORDER BY id" >"$T/restored.ids"
MISSING=$(comm -23 <(sort "$STORED_IDS") <(sort "$T/restored.ids") | wc -l)
RESTORED=$(wc -l <"$T/restored.ids")
expect_eq "$MISSING" 0 "commits reported stored but missing from the restore"
for id in 1 2 3; do
    expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM items WHERE id = $id")" 1 "row $id"
done
ok "restore --to latest holds all $NSTORED commits reported stored ($RESTORED of the burst restored, $WRITTEN acknowledged)"

# ---- 5. verify, copy and expire understand chunk objects
[ -n "$(chunks)" ] || fail "no chunk left to check verify, copy and expire with"
expect_exit 0 lb verify --repo "$REPO" --json
ok "verify passes with $(chunks | wc -l) chunk object(s) in the repository"
REPO2="$T/repo2"
expect_exit 0 lb repo-init --repo "$REPO2"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
[ -n "$(cd "$REPO2/wal" && find stream -type f 2>/dev/null)" ] || fail "copy left out the streamed chunks"
expect_exit 0 lb list --repo "$REPO2" --json
expect_eq "$(jq -r .window.latest "$OUT")" "$LATEST" "the copy's window end"
expect_exit 0 lb verify --repo "$REPO2" --json
ok "copy carries the chunks: the copy's window also ends at $LATEST and verifies"
expect_exit 0 lb expire --repo "$REPO" --retention-window 1s --keep-min 1 --dry-run --json
ok "expire (dry run) accepts the chunk objects"

finish
