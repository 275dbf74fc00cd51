#!/usr/bin/env bash
# Issue 10, item 3 (honest windows): right after a backup `list` says why the window is empty
# and what to do, in text and JSON (test_restore_latest.sh restores to exactly the window's
# end, included as printed); backups kept without the WAL after them are
# named as isolated, and restore with --backup ID --to consistent.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE items (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO items SELECT FROM generate_series(1, 100)"
backup_json
B1=$BACKUP_ID
ok "backup $B1"

# ---- right after the backup: no WAL after it is archived yet
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '.backups[0].restorable' "$OUT")" true "the backup is restorable"
expect_eq "$(jq -r .window.earliest "$OUT")" null "window start right after the backup"
expect_eq "$(jq -r .window.status "$OUT")" waiting_for_wal "window.status right after the backup"
jq -r .window.reason "$OUT" >"$T/reason"
expect_in "$T/reason" "^waiting for the first WAL segment after backup $B1: run \`lifeboat check\`" "window.reason names the backup and lifeboat check"
expect_in "$T/reason" "archive_timeout" "window.reason names archive_timeout"
expect_exit 0 lb list --repo "$REPO"
expect_in "$OUT" "^restorable window: none yet: waiting for the first WAL segment after backup $B1: run \`lifeboat check\` to force one, or set archive_timeout"
grep -q -- '- \.\. -' "$OUT" && fail "list still prints a bare '- .. -'"
ok "an empty window says why and what to do: $(grep '^restorable window' "$OUT")"

# A segment with nothing committed (a checkpoint record only) opens no window either, and says so.
q "CHECKPOINT"
switch_wal_and_wait
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r .window.status "$OUT")" no_commit_yet "window.status after an idle segment"
jq -r .window.reason "$OUT" >"$T/reason"
expect_in "$T/reason" "no transaction committed after backup $B1 has been archived yet" "idle reason"
ok "an archived segment without a commit is told apart: $(cat "$T/reason")"

# ---- commits archived: the window opens
q "INSERT INTO items SELECT FROM generate_series(1, 10)"
switch_wal_and_wait
expect_exit 0 lb list --repo "$REPO" --json
cp "$OUT" "$T/open.json"
expect_eq "$(jq -r .window.status "$T/open.json")" open "window.status once a commit is archived"
expect_eq "$(jq -r .window.reason "$T/open.json")" null "window.reason when open"
LATEST=$(jq -r .window.latest "$T/open.json")
expect_exit 0 lb list --repo "$REPO"
expect_in "$OUT" "^restorable window: [0-9TZ:.-]+ \\.\\. $LATEST$"
ok "open window"

# ---- an isolated backup: B1 kept without the WAL after it (as expiry with a pin leaves it)
q "INSERT INTO items SELECT FROM generate_series(1, 10)"
switch_wal_and_wait
backup_json
B2=$BACKUP_ID
q "INSERT INTO items SELECT FROM generate_series(1, 10)"
switch_wal_and_wait
B2_START=$(lb list --repo "$REPO" --json | jq -r --arg id "$B2" '.backups[] | select(.id == $id) | .start_lsn')
mapfile -t SEGMENTS < <(find "$REPO/wal" -type f -name '000000010000000000000*' ! -name '*.*' -printf '%f\n' | sort)
[ "${#SEGMENTS[@]}" -ge 4 ] || fail "expected at least 4 archived segments, got ${SEGMENTS[*]}"
# Remove every segment between B1's and B2's (exclusive): B1 then reaches nothing after itself.
B1_SEG=$(lb list --repo "$REPO" --json | jq -r --arg id "$B1" '.backups[] | select(.id == $id) | .start_lsn')
log "B1 starts at $B1_SEG, B2 at $B2_START; segments ${SEGMENTS[*]}"
B1_SEGNO=$(( 16#${B1_SEG#*/} >> 24 ))
B2_SEGNO=$(( 16#${B2_START#*/} >> 24 ))
for s in "${SEGMENTS[@]}"; do
    n=$(( 16#${s:16:8} ))
    if [ "$n" -gt "$B1_SEGNO" ] && [ "$n" -lt "$B2_SEGNO" ]; then
        find "$REPO/wal" -type f -name "$s*" -delete
        log "removed $s"
    fi
done
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "$B1" '.window.isolated_backups | index($id) != null' "$OUT")" true "B1 among window.isolated_backups"
expect_eq "$(jq -r --arg id "$B1" '.backups[] | select(.id == $id) | .isolated' "$OUT")" true "backups[].isolated of B1"
expect_eq "$(jq -r --arg id "$B2" '.backups[] | select(.id == $id) | .isolated' "$OUT")" false "backups[].isolated of B2"
expect_exit 0 lb list --repo "$REPO"
expect_in "$OUT" "^isolated backups \\(kept without the WAL after them; restore one with --backup ID --to consistent\\): $B1$"
ok "list names the isolated backup: $(grep '^isolated' "$OUT")"

restore_into "$T/r1" --backup "$B1" --to consistent --port "$(free_port)" --start
expect_eq "$(jq -r .backup "$OUT")" "$B1" "restored backup"
expect_eq "$(jq -r .target "$OUT")" consistent "restore target"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM items")" 100 "rows in the isolated backup restored to consistent"
ok "the isolated backup restores with --to consistent"
finish
