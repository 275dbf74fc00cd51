#!/usr/bin/env bash
# Timeline branches (issue 9, item 1). The source archives rows b1, (time T1), b2, (time T2), b3.
# A point-in-time restore to T1 that keeps archiving into the same repository (--archive) starts
# timeline 2 there and writes to it. A restore to T2 must then still give b1 and b2 (timeline 1,
# the backup's own), never follow timeline 2 silently; `list` shows each timeline's window;
# 'latest' with two histories is refused until --timeline says which; --timeline 2 follows the
# branch.
source "$(dirname "$0")/lib.sh" "$@"

now_utc() { q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
batches_on() { psql_on "$1" "SELECT coalesce(string_agg(DISTINCT batch, ',' ORDER BY batch), '') FROM rows"; }

start_source
q "CREATE TABLE rows (id serial PRIMARY KEY, batch text NOT NULL)"
backup_json
ok "backup $BACKUP_ID on timeline $(jq -r .timeline "$OUT")"

q "INSERT INTO rows (batch) SELECT 'b1' FROM generate_series(1, 100)"
sleep 1
T1=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'b2' FROM generate_series(1, 100)"
sleep 1
T2=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'b3' FROM generate_series(1, 100)"
switch_wal_and_wait
ok "b1, T1=$T1, b2, T2=$T2, b3 archived"

# ---- the branch: restore to T1, keep archiving into the same repository, write there
restore_into "$T/branch" --to "$T1" --start --archive
BRANCH_CONN=$RESTORED_CONN
expect_eq "$(batches_on "$BRANCH_CONN")" "b1" "rows of the instance restored to T1"
psql_on "$BRANCH_CONN" "INSERT INTO rows (batch) SELECT 'tl2' FROM generate_series(1, 100)"
BRANCH_TLI=$(psql_on "$BRANCH_CONN" "SELECT timeline_id FROM pg_control_checkpoint()")
switch_wal_and_wait "$BRANCH_CONN"
psql_on "$BRANCH_CONN" "CHECKPOINT"
BRANCH_TLI=$(psql_on "$BRANCH_CONN" "SELECT timeline_id FROM pg_control_checkpoint()")
expect_eq "$BRANCH_TLI" 2 "timeline of the branch"
for _ in $(seq 1 100); do
    [ -n "$(find "$REPO/wal" -name 00000002.history 2>/dev/null)" ] && break
    sleep 0.1
done
[ -n "$(find "$REPO/wal" -name 00000002.history)" ] || fail "00000002.history was not archived"
ok "timeline 2 writes rows 'tl2' and archives into the same repository"

# ---- restore --to T2: timeline 1 (b1 and b2), whatever timeline 2 holds
restore_into "$T/at-t2" --to "$T2" --start
GOT=$(batches_on "$RESTORED_CONN")
if [ "$GOT" != "b1,b2" ]; then
    defer_fail "restore --to T2 gave batches '$GOT', expected 'b1,b2' (it followed timeline 2?)"
else
    ok "restore --to T2 gives b1,b2"
fi
TL=$(jq -r '.timeline // empty' "$OUT")
[ "$TL" = 1 ] || defer_fail "restore --to T2 reports timeline '$TL', expected 1"
grep -q "recovery_target_timeline = '1'" "$T/at-t2/postgresql.auto.conf" ||
    defer_fail "restore --to T2 did not write recovery_target_timeline = '1'"
as_pg "$PGBIN/pg_ctl" -D "$T/at-t2" -m fast -w stop >/dev/null

# ---- list: each timeline's window
expect_exit 0 lb list --repo "$REPO" --json
cp "$OUT" "$T/list.json"
TL1_LATEST=$(jq -r '.timelines[]? | select(.timeline == 1) | .latest' "$T/list.json")
TL2_PARENT=$(jq -r '.timelines[]? | select(.timeline == 2) | .parent' "$T/list.json")
TL2_EARLIEST=$(jq -r '.timelines[]? | select(.timeline == 2) | .earliest' "$T/list.json")
TL2_LATEST=$(jq -r '.timelines[]? | select(.timeline == 2) | .latest' "$T/list.json")
if [ -z "$TL1_LATEST" ] || [ "$TL2_PARENT" != 1 ] || [ "$TL2_LATEST" = null ] || [ -z "$TL2_LATEST" ]; then
    defer_fail "list --json does not show both timelines' windows: $(jq -c '.timelines' "$T/list.json")"
else
    [[ "$TL1_LATEST" > "$T2" ]] || defer_fail "timeline 1's window ($TL1_LATEST) does not reach T2 ($T2)"
    [[ "$TL2_EARLIEST" < "$T1" ]] || defer_fail "timeline 2's window does not start at the backup"
    ok "list: timeline 1 .. $TL1_LATEST, timeline 2 (from 1) $TL2_EARLIEST .. $TL2_LATEST"
fi
# Where the histories part: the newest commit both share is b1's (before T1, after the backup).
TL2_BRANCH=$(jq -r '.timelines[]? | select(.timeline == 2) | .branch_time' "$T/list.json")
if [ -z "$TL2_BRANCH" ] || [ "$TL2_BRANCH" = null ]; then
    defer_fail "list --json gives timeline 2 no branch_time"
elif ! [[ "$TL2_BRANCH" < "$T1" && "$TL2_BRANCH" > "$TL2_EARLIEST" ]]; then
    defer_fail "timeline 2's branch_time $TL2_BRANCH is not between the backup and T1 ($T1)"
else
    ok "timeline 2 branched off after $TL2_BRANCH (b1's commit)"
fi
WIN_LATEST=$(jq -r .window.latest "$T/list.json")
[[ "$WIN_LATEST" > "$T2" ]] || defer_fail "the top-level window ($WIN_LATEST) does not reach T2"
expect_exit 0 lb list --repo "$REPO"
grep -q "timeline 2 (branched off 1" "$OUT" || defer_fail "list (text) does not show timeline 2"

# ---- 'latest' is ambiguous now: refused with one line, until --timeline says which
expect_exit 9 lb restore --repo "$REPO" --target-dir "$T/latest-ambiguous" --to latest
expect_one_line_error
expect_in "$ERR" "--timeline" "the refusal names --timeline"
[ ! -e "$T/latest-ambiguous" ] || defer_fail "a refused restore left $T/latest-ambiguous behind"
ok "restore --to latest refused: $(cat "$ERR")"

restore_into "$T/latest-tl2" --to latest --timeline 2 --start
expect_eq "$(batches_on "$RESTORED_CONN")" "b1,tl2" "restore --to latest --timeline 2"
as_pg "$PGBIN/pg_ctl" -D "$T/latest-tl2" -m fast -w stop >/dev/null
restore_into "$T/latest-tl1" --to latest --timeline current --start
expect_eq "$(batches_on "$RESTORED_CONN")" "b1,b2,b3" "restore --to latest --timeline current"
as_pg "$PGBIN/pg_ctl" -D "$T/latest-tl1" -m fast -w stop >/dev/null
ok "--timeline 2 gives b1,tl2; --timeline current gives b1,b2,b3"

# ---- T2 on timeline 2 is the state at the branch (T1): b1 only
restore_into "$T/t2-tl2" --to "$T2" --timeline 2 --start
expect_eq "$(batches_on "$RESTORED_CONN")" "b1" "restore --to T2 --timeline 2"
as_pg "$PGBIN/pg_ctl" -D "$T/t2-tl2" -m fast -w stop >/dev/null
ok "restore --to T2 --timeline 2 gives b1"

expect_exit 2 lb restore --repo "$REPO" --target-dir "$T/bad" --to latest --timeline banana
expect_one_line_error
expect_exit 9 lb restore --repo "$REPO" --target-dir "$T/bad" --to latest --timeline 7
expect_one_line_error
ok "bad --timeline values refused"

finish
