#!/usr/bin/env bash
# Issue 9, item 13: links in the data directory are backed up as links, never followed (except
# pg_tblspc/<oid> and pg_wal): a loop and a link to /etc cost one entry each, the backup holds none
# of /etc's files, and restore recreates the links with their targets (never writing through
# them); the restored instance starts.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh" "$@"
TOOL="python3 $HERE/manifest_tool.py"

start_source
q "CREATE TABLE t (id int PRIMARY KEY)"
q "INSERT INTO t SELECT generate_series(1, 1000)"
as_pg ln -s . "$SRC/loop"
as_pg ln -s /etc "$SRC/etc_link"
as_pg mkdir "$SRC/extra"
as_pg ln -s ../.. "$SRC/extra/up_twice"
as_pg ln -s extra "$SRC/extra_link"

START=$(date +%s)
backup_json
ELAPSED=$(( $(date +%s) - START ))
FILES=$(jq -r .files "$OUT")
log "backup $BACKUP_ID: $FILES files in ${ELAPSED}s"
[ "$FILES" -lt 3000 ] || fail "the backup holds $FILES files: links were followed"

$TOOL dump "$REPO" "$BACKUP_ID" >"$T/manifest.json"
through=$(jq -r '.entries[].path | select(test("^(loop|etc_link|extra_link|extra/up_twice)/"))' "$T/manifest.json" | head -5)
[ -z "$through" ] || fail "the backup walked through links: $through"
for pair in "loop ." "etc_link /etc" "extra/up_twice ../.." "extra_link extra"; do
    set -- $pair
    jq -e --arg p "$1" --arg t "$2" '[.entries[] | select(.path == $p and .type == "link" and
        .target == $t)] | length == 1' "$T/manifest.json" >/dev/null ||
        fail "the manifest has no link entry $1 -> $2"
done
ok "links are recorded as links"

switch_wal_and_wait
R="$T/restored"
restore_into "$R" --to latest --start
for pair in "loop ." "etc_link /etc" "extra/up_twice ../.." "extra_link extra"; do
    set -- $pair
    [ -L "$R/$1" ] || fail "$1 was not restored as a link"
    expect_eq "$(readlink "$R/$1")" "$2" "target of the restored link $1"
done
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM t")" 1000 "rows in the restored instance"
ok "restore recreates the links and the instance runs"
finish
