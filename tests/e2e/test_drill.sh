#!/usr/bin/env bash
# Restore drills: a drill restores to a point into a scratch instance, validates it, times it,
# records the evidence in the repository and cleans up; a failing user check fails the drill but
# is still recorded and cleaned up; a WAL segment missing inside the window fails the drill
# naming the segment.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "CREATE TABLE users (id int PRIMARY KEY)"
q "CREATE TABLE signups (at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO signups DEFAULT VALUES"
q "INSERT INTO ticks (id) SELECT g FROM generate_series(1, 50) g"
backup_json
for i in $(seq 51 80); do q "INSERT INTO ticks (id) VALUES ($i)"; sleep 0.05; done
TARGET=$(q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
for i in $(seq 81 90); do q "INSERT INTO ticks (id) VALUES ($i)"; done
switch_wal_and_wait

cat >"$T/good.toml" <<'EOC'
[[check]]
name = "ticks restored"
sql = "SELECT count(*) FROM ticks"
expect = "= 80"

[[check]]
name = "nothing after the target"
sql = "SELECT max(at) FROM ticks"
expect = "<= target"

[[point_in_time]]
table = "ticks"
column = "at"
within = "10s"
EOC
cat >"$T/bad.toml" <<'EOC'
[[check]]
name = "users exist"
sql = "SELECT count(*) FROM users"
expect = "> 0"

# The only signup is seconds older than the target: stale by this standard.
[[point_in_time]]
table = "public.signups"
column = "at"
within = "1s"
EOC
chmod 644 "$T"/*.toml
# The drills' scratch directories go where this test alone looks (other tests drill at the same
# time), chosen through TMPDIR, the default when --scratch-dir is not given.
as_pg mkdir -p "$T/scratch"
drill() { as_pg env TMPDIR="$T/scratch" "$LB" drill "$@"; }

# The drill runs while the source is under a write load (and keeps archiving).
as_pg "$PGBIN/pgbench" -i -s 1 -q "$CONNINFO" >/dev/null 2>&1 || fail "pgbench -i failed"
as_pg "$PGBIN/pgbench" -c 2 -T 15 -n "$CONNINFO" >"$T/pgbench.log" 2>&1 &
PGBENCH_PID=$!
expect_exit 0 drill --repo "$REPO" --to "$TARGET" --checks "$T/good.toml" --json
kill "$PGBENCH_PID" 2>/dev/null || true
wait "$PGBENCH_PID" 2>/dev/null || true
expect_eq "$(jq -r .passed "$OUT")" true "drill passed"
expect_eq "$(jq -r .backup "$OUT")" "$BACKUP_ID" "backup used"
python3 - "$OUT" <<'PY' || fail "RTO phases do not add up to the total"
import json, sys
p = json.load(open(sys.argv[1]))["phases"]
parts = p["files_seconds"] + p["replay_seconds"] + p["ready_seconds"]
assert 0 < parts <= p["total_seconds"] + 0.05 and p["total_seconds"] - parts < 0.5, p
assert p["prepare_seconds_in_parallel"] > 0, p  # port, programs and account found meanwhile
PY
ok "drill passed; phases add up"

expect_eq "$(jq -r '[.checks[] | select(.kind == "point-in-time" and .passed)] | length' "$OUT")" 1 \
    "point-in-time check on ticks.at passed"
expect_exit 10 drill --repo "$REPO" --to "$TARGET" --checks "$T/bad.toml" --json
expect_eq "$(jq -r .passed "$OUT")" false "drill with a failing check"
expect_in "$OUT" "users exist"
expect_eq "$(jq -r '.checks[] | select(.name == "public.signups.at") | .passed' "$OUT")" false "stale point-in-time check"
expect_in "$OUT" "s before the target .* \\(allowed: 1 s\\)"
ls -d "$T"/scratch/lifeboat-drill-* 2>/dev/null && fail "a drill left its scratch directory behind"
pgrep -f "$T/scratch/lifeboat-drill-" >/dev/null && fail "a drill left a server running"
ok "failed drill recorded and cleaned up"
# TMPDIR is where the scratch directories went (the checks above look in the right place).
expect_failure as_pg env TMPDIR="$T/no-such-dir" "$LB" drill --repo "$REPO" --latest
expect_one_line_error
expect_in "$ERR" "$T/no-such-dir"

# A segment missing inside the window: the drill fails and names it.
SEGMENT=$(find "$REPO/wal" -type f -name '0000000100000000000000*' ! -name '*.backup' | sort | tail -2 | head -1)
NAME=$(basename "$SEGMENT")
mv "$SEGMENT" "$T/"
expect_exit 10 drill --repo "$REPO" --latest --json
expect_eq "$(jq -r .passed "$OUT")" false "drill with a missing segment"
expect_in "$OUT" "$NAME"
mv "$T/$NAME" "$SEGMENT"

expect_exit 0 lb list --repo "$REPO" --json
[ "$(jq -r '.backups[0].last_proven' "$OUT")" != null ] || fail "list does not show when the backup was proven"
expect_exit 0 lb drills --repo "$REPO" --json
expect_eq "$(jq -r 'length' "$OUT")" 3 "recorded drills"
expect_eq "$(jq -r '[.[] | select(.passed)] | length' "$OUT")" 1 "passed drills"
# The disaster-recovery report: its figures match list and drills.
expect_exit 0 lb report --repo "$REPO" --format json
expect_eq "$(jq -r '.repositories[0].drills | length' "$OUT")" 3 "drills in the report"
expect_eq "$(jq -r '.repositories[0].newest_backup' "$OUT")" "$BACKUP_ID" "newest backup in the report"
LIST_EARLIEST=$(lb list --repo "$REPO" --json | jq -r .window.earliest)
expect_eq "$(jq -r '.repositories[0].window_earliest' "$OUT")" "$LIST_EARLIEST" "window in the report"
[ "$(jq -r '.repositories[0].rpo_seconds' "$OUT")" != null ] || fail "no RPO in the report"
expect_eq "$(jq -r '.repositories[0].retention' "$OUT")" "window 7d, at least 1 backup" "retention in force (defaults)"
expect_eq "$(jq -r '.repositories[0].backups_outside_retention' "$OUT")" 0 "backups outside retention"
expect_exit 0 as_pg env LIFEBOAT_RETENTION_WINDOW=90m LIFEBOAT_KEEP_DAILY=3 "$LB" report --repo "$REPO" --format json
expect_eq "$(jq -r '.repositories[0].retention' "$OUT")" "window 90m, at least 1 backup, daily 3" "retention from the environment"
expect_exit 0 lb report --repo "$REPO"
expect_in "$OUT" "Disaster-recovery report"
expect_in "$OUT" "retention in force \\| window 7d"
expect_in "$OUT" "backup schedule \\(observed\\)"
expect_in "$OUT" "lifeboat restore --repo"
expect_exit 0 lb report --repo "$REPO" --format html
expect_in "$OUT" "<!doctype html>"
finish
