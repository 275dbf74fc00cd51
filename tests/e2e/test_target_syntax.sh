#!/usr/bin/env bash
# Issue 10, item 4 (one target syntax): restore, drill and validate take the same --to
# TIME|latest|consistent; drill --to latest works and its point-in-time checks use what was
# restored; a drill time older than every backup (or to come) is refused with the window (9) and
# records nothing; durations take weeks; pin --until takes a date (the whole UTC day).
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO ticks (id) SELECT g FROM generate_series(1, 50) g"
backup_json
B1=$BACKUP_ID
sleep 1.1
for i in $(seq 51 60); do q "INSERT INTO ticks (id) VALUES ($i)"; done
switch_wal_and_wait
cat >"$T/pit.toml" <<'EOC'
[[point_in_time]]
table = "ticks"
column = "at"
within = "1m"

[[check]]
name = "nothing after the target"
sql = "SELECT max(at) FROM ticks"
expect = "<= target"
EOC
chmod 644 "$T/pit.toml"
expect_exit 0 lb list --repo "$REPO" --json
LATEST=$(jq -r .window.latest "$OUT")
[ "$LATEST" != null ] || fail "no restorable window"

# ---- drill --to latest, with point-in-time checks
expect_exit 0 lb drill --repo "$REPO" --to latest --checks "$T/pit.toml" --json
expect_eq "$(jq -r .target "$OUT")" latest "drill target"
CHECKED=$(jq -r .checked_against "$OUT")
[ "$CHECKED" != null ] || fail "drill --to latest recorded no time its checks compared with"
[[ ! "$CHECKED" < "$LATEST" ]] || fail "checked against $CHECKED, before the window's end $LATEST"
expect_eq "$(jq -r '[.checks[] | select(.kind == "point-in-time" and .passed)] | length' "$OUT")" 1 \
    "point-in-time check of drill --to latest"
ok "drill --to latest passes its point-in-time checks (against $CHECKED)"
expect_exit 0 lb drill --repo "$REPO" --latest
expect_in "$OUT" "target       latest \\(backup $B1\\)"
expect_in "$OUT" "checked at   "
ok "drill --latest is the same as --to latest"
# The window's end is included for a drill as for restore: every row is there.
cat >"$T/all.toml" <<'EOC'
[[check]]
name = "every row"
sql = "SELECT count(*) FROM ticks"
expect = "= 60"
EOC
chmod 644 "$T/all.toml"
expect_exit 0 lb drill --repo "$REPO" --to "$LATEST" --checks "$T/all.toml" --json
expect_eq "$(jq -r .target "$OUT")" "$LATEST" "drill target at the window's end"
ok "drill --to the window's end ($LATEST) holds every row"
expect_exit 0 lb drills --repo "$REPO" --json
DRILLS=$(jq length "$OUT")
expect_eq "$DRILLS" 3 "drills recorded"

# ---- times no backup reaches: refused with the window, nothing recorded
expect_exit 9 lb drill --repo "$REPO" --ago 1h --checks "$T/pit.toml"
expect_one_line_error
expect_in "$ERR" "is older than every backup" "refusal of --ago 1h"
expect_in "$ERR" "the restorable window is [0-9TZ:.-]+ \\.\\. $LATEST" "refusal names the window"
ok "drill --ago 1h before every backup is refused (9): $(cat "$ERR")"
expect_exit 9 lb drill --repo "$REPO" --ago 2w
expect_one_line_error
ok "drill --ago 2w: weeks accepted, refused as outside the window (9)"
FUTURE=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
expect_exit 9 lb drill --repo "$REPO" --to "$FUTURE"
expect_one_line_error
expect_in "$ERR" "is in the future"
ok "drill --to a future time is refused (9)"
expect_exit 2 lb drill --repo "$REPO" --ago 1y
expect_one_line_error
expect_in "$ERR" "s, m, h, d or w"
expect_exit 2 lb drill --repo "$REPO" --to latest --ago 1h
expect_one_line_error
expect_exit 2 lb drill --repo "$REPO" --to yesterday
expect_one_line_error
expect_in "$ERR" "malformed time 'yesterday'"
ok "malformed drill targets are usage errors (2)"
# Refused drills, with their scratch directories where this test alone looks.
as_pg mkdir -p "$T/scratch"
expect_exit 9 lb drill --repo "$REPO" --ago 1h --scratch-dir "$T/scratch"
expect_exit 9 lb drill --repo "$REPO" --to "$FUTURE" --scratch-dir "$T/scratch"
ls -d "$T"/scratch/lifeboat-drill-* 2>/dev/null && fail "a refused drill left its scratch directory behind"
expect_exit 0 lb drills --repo "$REPO" --json
expect_eq "$(jq length "$OUT")" "$DRILLS" "drills recorded after the refusals"
ok "refused drills record nothing"

# ---- restore and validate share the syntax
restore_into "$T/r1" --to latest --port "$(free_port)" --start
expect_exit 0 lb validate --pg "$RESTORED_CONN" --checks "$T/pit.toml" --target latest --repo "$REPO" --json
expect_eq "$(jq -r '[.checks[] | select(.kind == "point-in-time" and .passed)] | length' "$OUT")" 1 \
    "point-in-time check of validate --target latest"
ok "validate --target latest compares with the end of the window"
expect_exit 2 lb validate --pg "$RESTORED_CONN" --checks "$T/pit.toml" --target consistent
expect_one_line_error
expect_exit 2 lb validate --pg "$RESTORED_CONN" --checks "$T/pit.toml" --target tomorrow
expect_one_line_error
expect_in "$ERR" "malformed time 'tomorrow'"
ok "validate refuses consistent and malformed targets (2)"
expect_exit 2 lb restore --repo "$REPO" --to now --target-dir "$T/never"
expect_one_line_error
expect_in "$ERR" "malformed time 'now'"
ok "restore takes the same syntax"

# ---- weeks in retention, dates in pins
expect_exit 0 lb expire --repo "$REPO" --dry-run --retention-window 2w
DAY=$(date -u -d '+30 days' +%Y-%m-%d)
NEXT=$(date -u -d "$DAY +1 day" +%Y-%m-%d)
expect_exit 0 lb pin "$B1" --repo "$REPO" --until "$DAY"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "$B1" '.backups[] | select(.id == $id) | .pinned_until' "$OUT")" \
    "${NEXT}T00:00:00Z" "pin --until $DAY holds through that UTC day"
expect_exit 2 lb pin "$B1" --repo "$REPO" --until 2026-02-30
expect_one_line_error
expect_in "$ERR" "malformed date '2026-02-30'"
backup_json --pin --until "$DAY"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r --arg id "$BACKUP_ID" '.backups[] | select(.id == $id) | .pinned_until' "$OUT")" \
    "${NEXT}T00:00:00Z" "backup --pin --until $DAY"
ok "pin --until and backup --pin --until take a date (to the end of that UTC day)"
finish
