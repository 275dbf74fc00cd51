#!/usr/bin/env bash
# Numbers and times that overflow (issue 9, item 3): durations and times are parsed by one
# checked parser with ranges. A retention window, a drill's --ago or a pin's --until that
# overflows or cannot be stored and read back is refused with one line (exit 2) and changes
# nothing; afterwards list, report, drills and expire still work. A damaged pin or drill record
# is named and does not make those commands fail.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int)"
IDS=()
for i in 1 2 3; do
    q "INSERT INTO t VALUES ($i)"
    backup_json
    IDS+=("$BACKUP_ID")
    sleep 1  # backup ids are per second
done
count_backups() {
    expect_exit 0 lb list --repo "$REPO" --json
    jq -r '.backups | length' "$OUT"
}
expect_eq "$(count_backups)" 3 "backups taken"

# 1. Retention windows: days * 86400 * 10^6 overflowed and deleted every backup but one.
for window in 200000000d 36501d 99999999999999999999d 9223372036854775807s -1d 7x; do
    expect_exit 2 lb expire --repo "$REPO" --retention-window "$window"
    expect_one_line_error
done
expect_in "$ERR" "malformed duration"
expect_exit 2 lb expire --repo "$REPO" --retention-window 200000000d --keep-min 1
expect_in "$ERR" "too long: the longest accepted is 36500d"
expect_exit 2 env LIFEBOAT_RETENTION_WINDOW=200000000d "$LB" expire --repo "$REPO"
expect_one_line_error
CONF="$T/lifeboat.toml"
printf '[repositories.main]\npath = "%s"\n[repositories.main.retention]\nwindow = "200000000d"\n' "$REPO" >"$CONF"
chmod 644 "$CONF"
expect_exit 2 lb expire --config "$CONF"
expect_one_line_error
expect_eq "$(count_backups)" 3 "backups after refused expires"
# The longest window accepted keeps everything.
expect_exit 0 lb expire --repo "$REPO" --retention-window 36500d --json
expect_eq "$(jq -r '.expired | length' "$OUT")" 0 "expired with a 100-year window"
ok "overflowing retention windows are refused and delete nothing"

# 2. Drills: --ago 200000000d recorded a drill in year 38999.
expect_exit 2 lb drill --repo "$REPO" --ago 200000000d
expect_one_line_error
expect_in "$ERR" "too long"
expect_exit 2 lb drill --repo "$REPO" --ago 36500d
expect_one_line_error
expect_in "$ERR" "before 1970"
expect_exit 0 lb drills --repo "$REPO" --json
expect_eq "$(jq -r 'length' "$OUT")" 0 "drills recorded by refused drills"
ok "drill --ago beyond the range is refused and records nothing"

# 3. Pins: year 10000 once normalised to UTC, and zone offsets no zone has.
for until in 9999-12-31T23:59:59-23:00 9999-12-31T23:59:59-01:00 2030-01-01T00:00:00+99:99 \
    2030-01-01T00:00:00+24:00 2030-01-01T00:00:00+14:30 2030-01-01T00:00:00+05:60 \
    1969-12-31T23:59:59Z 10000-01-01T00:00:00Z; do
    expect_exit 2 lb pin --repo "$REPO" "${IDS[0]}" --until "$until"
    expect_one_line_error
done
expect_exit 2 lb backup --repo "$REPO" --pg "$CONNINFO" --pin --until 9999-12-31T23:59:59-23:00
expect_one_line_error
expect_eq "$(count_backups)" 3 "backups after a refused backup --pin --until"
[ -z "$(ls -A "$REPO/pins" 2>/dev/null)" ] || fail "a refused pin stored something: $(ls "$REPO/pins")"
expect_exit 0 lb pin --repo "$REPO" "${IDS[0]}" --until 2030-01-01T00:00:00+14:00 --json
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "${IDS[0]}" '.backups[] | select(.id == $id) | .pinned_until' "$OUT")" \
    2029-12-31T10:00:00Z "pin with the largest real zone offset"
expect_exit 2 lb restore --repo "$REPO" --to 2030-01-01T00:00:00+24:00 --target-dir "$T/never"
expect_one_line_error
[ ! -e "$T/never" ] || fail "a refused restore created its target"
ok "times outside the storable range and impossible zone offsets are refused"

# 4. Damaged stored objects: one bad pin or drill record must not stop list, report, drills or
# expire (they exited 2 or 6 until the object was removed by hand). A damaged pin holds.
mkdir -p "$REPO/drills"
printf 'not a drill record' >"$REPO/drills/20261129T000000Z-dead"
printf 'LB' >"$REPO/pins/${IDS[1]}"
if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER": "$REPO"; fi
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "${IDS[1]}" '.backups[] | select(.id == $id) | .pinned' "$OUT")" true \
    "a damaged pin holds"
expect_in "$ERR" "warning: pins/${IDS[1]}"
expect_exit 0 lb drills --repo "$REPO"
expect_in "$OUT" "FAILED"
expect_exit 0 lb drills --repo "$REPO" --json
expect_in "$OUT" "unreadable drill record drills/20261129T000000Z-dead"
expect_exit 0 lb report --repo "$REPO" --format json
expect_exit 0 lb expire --repo "$REPO" --retention-window 0 --keep-min 1 --json
expect_eq "$(jq -r '.expired | length' "$OUT")" 0 "expired: the newest is kept, the others are pinned"
expect_in "$ERR" "warning: pins/${IDS[1]}"
ok "a damaged pin or drill record is named and the commands carry on"
finish
