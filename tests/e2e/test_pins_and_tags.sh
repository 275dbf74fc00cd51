#!/usr/bin/env bash
# Tagged and pinned snapshots: backup --tag/--pin, pin/unpin, list filtered by tag, and the
# repository's stored bytes and savings ratio in list.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int)"
backup_json --tag purpose=pre-maintenance --tag ticket=OPS-42 --pin
PRE=$BACKUP_ID
sleep 1
backup_json --tag purpose=nightly
NIGHTLY=$BACKUP_ID

expect_exit 0 lb list --repo "$REPO" --tag purpose=pre-maintenance --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "backups tagged pre-maintenance"
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$PRE" "the tagged backup"
expect_eq "$(jq -r '.backups[0].pinned' "$OUT")" true "pinned at backup time"
expect_eq "$(jq -r '.backups[0].tags.ticket' "$OUT")" OPS-42 "second tag"
[ "$(jq -r '.stored_bytes' "$OUT")" -gt 0 ] || fail "no stored bytes reported"
awk "BEGIN { exit !($(jq -r '.savings_ratio' "$OUT") > 1) }" || fail "no savings reported"

expect_exit 0 lb pin --repo "$REPO" "$NIGHTLY" --until 2030-01-01T00:00:00Z
expect_exit 0 lb unpin --repo "$REPO" "$PRE"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "$PRE" '.backups[] | select(.id == $id) | .pinned' "$OUT")" false "after unpin"
expect_eq "$(jq -r --arg id "$NIGHTLY" '.backups[] | select(.id == $id) | .pinned_until' "$OUT")" \
    2030-01-01T00:00:00Z "pin with an end date"
expect_exit 0 lb list --repo "$REPO"
expect_in "$OUT" "pinned until 2030-01-01T00:00:00Z"
expect_in "$OUT" "stored: "

expect_exit 1 lb pin --repo "$REPO" 20000101T000000Z
expect_exit 2 lb pin --repo "$REPO" "$NIGHTLY" --until tomorrow
expect_exit 2 lb list --repo "$REPO" --tag nonsense
finish
