#!/usr/bin/env bash
# Pins and tags travel with copies (issue 9, item 6): a pinned backup copied to a second
# repository arrives pinned (same --until) and tagged, and expire there keeps it; a pin changed
# or removed at the source follows on the next copy, while a pin set in the destination itself
# is left alone; copy_after_backup carries the pin of `backup --pin` too.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int)"
backup_json --tag purpose=pre-maintenance --tag ticket=OPS-7
A=$BACKUP_ID
expect_exit 0 lb pin --repo "$REPO" "$A" --until 2099-01-01T00:00:00Z
sleep 1
backup_json --tag purpose=nightly
B=$BACKUP_ID
sleep 1
backup_json --pin --tag purpose=release
C=$BACKUP_ID
sleep 1
backup_json
D=$BACKUP_ID
switch_wal_and_wait

REPO2="$T/repo2"
expect_exit 0 lb repo-init --repo "$REPO2"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
cp "$OUT" "$T/first-copy.json"

pin_of() {  # pin_of REPO ID: "pinned until" of a backup in list --json
    expect_exit 0 lb list --repo "$1" --json
    jq -r --arg id "$2" '.backups[] | select(.id == $id) | "\(.pinned) \(.pinned_until)"' "$OUT"
}
expect_eq "$(pin_of "$REPO2" "$A")" "true 2099-01-01T00:00:00Z" "A pinned in the copy, same end"
expect_eq "$(jq -r --arg id "$A" '.backups[] | select(.id == $id) | .tags | "\(.purpose) \(.ticket)"' "$OUT")" \
    "pre-maintenance OPS-7" "A's tags in the copy"
expect_eq "$(pin_of "$REPO2" "$C")" "true null" "C pinned for ever in the copy"
expect_eq "$(jq -r --arg id "$C" '.backups[] | select(.id == $id) | .tags.purpose' "$OUT")" release "C's tag"
expect_eq "$(pin_of "$REPO2" "$B")" "false null" "B not pinned in the copy"
expect_exit 0 lb list --repo "$REPO2"
expect_in "$OUT" "$A .*\[pinned until 2099-01-01T00:00:00Z\]"
expect_eq "$(jq -r '.pins_copied | sort | join(" ")' "$T/first-copy.json")" "$A $C" "pins copied (json)"

# A tiny window in the copy: only the newest backup and the pinned ones survive.
expect_exit 0 lb expire --repo "$REPO2" --retention-window 1s --keep-min 1 --json
expect_exit 0 lb list --repo "$REPO2" --json
expect_eq "$(jq -r '[.backups[].id] | sort | join(" ")' "$OUT")" "$A $C $D" "backups left in the copy"

# Later changes at the source follow on the next copy; the destination's own pin stays.
expect_exit 0 lb unpin --repo "$REPO" "$A"
expect_exit 0 lb pin --repo "$REPO" "$D" --until 2098-06-01T00:00:00Z
expect_exit 0 lb pin --repo "$REPO2" "$C" --until 2097-01-01T00:00:00Z
expect_exit 0 lb unpin --repo "$REPO" "$C"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
expect_eq "$(jq -r '.pins_copied | join(" ")' "$OUT")" "$D" "pins copied the second time"
expect_eq "$(jq -r '.pins_removed | join(" ")' "$OUT")" "$A" "pins removed the second time"
expect_eq "$(pin_of "$REPO2" "$A")" "false null" "A unpinned at the source, so in the copy"
expect_eq "$(pin_of "$REPO2" "$D")" "true 2098-06-01T00:00:00Z" "D pinned later at the source"
expect_eq "$(pin_of "$REPO2" "$C")" "true 2097-01-01T00:00:00Z" "the copy's own pin of C stays"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
expect_eq "$(jq -r '(.pins_copied + .pins_removed) | length' "$OUT")" 0 "a repeated copy changes no pin"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2"
expect_in "$OUT" "copied 0 backup"

# copy_after_backup: the pin and tags given to `backup` arrive with the copy.
REPO3="$T/repo3"
expect_exit 0 lb repo-init --repo "$REPO3"
cat >"$T/lifeboat.toml" <<EOC
[repositories.primary]
path = "$REPO"

[repositories.west]
path = "$REPO3"
copy_after_backup = true
EOC
chmod 644 "$T/lifeboat.toml"
expect_exit 0 lb backup --config "$T/lifeboat.toml" --repo "$REPO" --pg "$CONNINFO" --json \
    --pin --until 2096-03-01T12:00:00Z --tag purpose=pre-upgrade
E=$(jq -r .id "$OUT")
expect_eq "$(pin_of "$REPO3" "$E")" "true 2096-03-01T12:00:00Z" "copy_after_backup carries the pin"
expect_eq "$(jq -r --arg id "$E" '.backups[] | select(.id == $id) | .tags.purpose' "$OUT")" pre-upgrade \
    "copy_after_backup carries the tags"
finish
