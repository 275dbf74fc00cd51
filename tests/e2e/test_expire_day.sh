#!/usr/bin/env bash
# Retention acceptance: a day simulated with a test clock (LIFEBOAT_TEST_CLOCK: one real second is
# half a simulated hour), hourly backups under a write load, then expiry with a 2-hour window plus
# GFS counts. Exactly the backups an independent reading of the policy names remain; point-in-time
# restores inside the window are exact; a moment just before the window is refused with the window
# stated; a pinned backup outlives its age and restores, and goes at the next expiry once unpinned.
source "$(dirname "$0")/lib.sh" "$@"

SCALE=1800            # simulated seconds per real second: one hour every 2 s
SIM0=2026-11-30T12:00:00Z
start_source
q "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "CREATE TABLE churn (id int PRIMARY KEY, pad text)"
q "INSERT INTO churn SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 20000) g"

# The write load: one committed row every 50 ms for the whole day.
as_pg psql -X -q -v ON_ERROR_STOP=1 "$CONNINFO" -c "
DO \$\$
DECLARE stop_at timestamptz := clock_timestamp() + interval '80 seconds';
BEGIN
  WHILE clock_timestamp() < stop_at LOOP
    INSERT INTO ticks DEFAULT VALUES;
    COMMIT;
    PERFORM pg_sleep(0.05);
  END LOOP;
END
\$\$" >"$T/ticker.log" 2>&1 &
BG_PIDS+=("$!")

REAL0=$(date -u +%s)
export LIFEBOAT_TEST_CLOCK="$(date -u -d "@$REAL0" +%FT%TZ) $SIM0 $SCALE"
log "test clock: $LIFEBOAT_TEST_CLOCK"
sleep_until() { local t=$1; while [ "$(date +%s%N)" -lt "$(( t * 1000000000 ))" ]; do sleep 0.05; done; }

IDS=()
for hour in $(seq 0 23); do
    sleep_until $(( REAL0 + 2 * hour ))
    q "UPDATE churn SET pad = md5(random()::text) || pad WHERE id % 24 = $hour" >/dev/null
    backup_json
    IDS+=("$BACKUP_ID")
done
ok "24 hourly backups: ${IDS[0]} .. ${IDS[23]}"
PINNED=${IDS[2]}
expect_exit 0 lb pin --repo "$REPO" "$PINNED"

# Half an hour (simulated) after the last backup.
sleep_until $(( REAL0 + 47 ))
POLICY=(--retention-window 2h --keep-daily 2 --keep-monthly 2)

# The policy, read independently: prints the ids that must remain for an expire --json output.
expected_ids() {
    python3 - "$1" "$LIFEBOAT_TEST_CLOCK" "$2" <<'PY'
import json, sys
from datetime import datetime, timedelta
out = json.load(open(sys.argv[1]))
real0, sim0, scale = sys.argv[2].split()
pinned = sys.argv[3]
parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
sim = lambda t: parse(sim0) + (t - parse(real0)) * float(scale)
now = parse(out["now"])
backups = sorted(((sim(parse(b["stop_time"])), b["id"]) for b in out["backups"]), reverse=True)
keep = {backups[0][1]}                           # at least 1
for t, i in backups:                              # the 2-hour window and the backup it starts from
    keep.add(i)
    if t <= now - timedelta(hours=2):
        break
for key in (lambda t: t.date(), lambda t: (t.year, t.month)):  # daily 2, monthly 2
    seen = []
    for t, i in backups:
        if key(t) not in seen and len(seen) < 2:
            seen.append(key(t))
            keep.add(i)
if pinned:
    keep.add(pinned)
print(" ".join(sorted(keep)))
PY
}
kept_ids() { jq -r '[.backups[] | select(.keep) | .id] | sort | join(" ")' "$1"; }

find "$REPO" -type f | sort >"$T/objects-before"
expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --dry-run --json
cp "$OUT" "$T/dry-run.json"
find "$REPO" -type f | sort >"$T/objects-after-dry-run"
cmp -s "$T/objects-before" "$T/objects-after-dry-run" || fail "expire --dry-run changed the repository"
expect_eq "$(kept_ids "$T/dry-run.json")" "$(expected_ids "$T/dry-run.json" "$PINNED")" "dry run: kept backups"
[ "$(jq '.expired | length' "$T/dry-run.json")" -gt 10 ] || fail "dry run: too few backups would expire"
[ "$(jq .freed_bytes "$T/dry-run.json")" -gt 0 ] || fail "dry run: frees nothing"

expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --json
cp "$OUT" "$T/expire.json"
EXPECTED=$(expected_ids "$T/expire.json" "$PINNED")
expect_eq "$(kept_ids "$T/expire.json")" "$EXPECTED" "kept backups"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '[.backups[].id] | sort | join(" ")' "$OUT")" "$EXPECTED" "backups listed after expiry"
log "kept: $EXPECTED"
log "freed $(jq .freed_bytes "$T/expire.json") bytes: $(jq '.wal_removed | length' "$T/expire.json") WAL files, $(jq .packs_deleted "$T/expire.json") packs deleted, $(jq .packs_repacked "$T/expire.json") rewritten"
[ "$(jq '.wal_removed | length' "$T/expire.json")" -gt 0 ] || fail "no WAL removed"
expect_exit 0 lb verify --repo "$REPO"

# Point-in-time restores inside the window: the midpoint between two ticks, early and late in it.
ANCHOR=$(jq -r '[.backups[] | select(.reasons | index("window start"))][0].id' "$T/expire.json")
ANCHOR_STOP=$(jq -r --arg id "$ANCHOR" '.backups[] | select(.id == $id) | .stop_time' "$T/expire.json")
# list states the continuous window (from the backup the window starts from) and names the older
# backups that restore only on their own.
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r .window.earliest "$OUT")" "$ANCHOR_STOP" "start of the restorable window after expiry"
jq -e --arg id "$PINNED" '.window.isolated_backups | index($id)' "$OUT" >/dev/null ||
    fail "the pinned backup is not listed as restorable on its own: $(jq -c .window "$OUT")"
WINDOW_START_REAL=$(python3 -c "
from datetime import datetime, timedelta
p = lambda s: datetime.fromisoformat(s.replace('Z', '+00:00'))
real0, sim0, scale = '$LIFEBOAT_TEST_CLOCK'.split()
now = p('$(jq -r .now "$T/expire.json")')
print((p(real0) + (now - timedelta(hours=2) - p(sim0)) / float(scale)).strftime('%Y-%m-%dT%H:%M:%S.%fZ'))")
switch_wal_and_wait
sample_between() {  # a moment between two ticks committed after $1
    q "WITH c AS (SELECT pg_xact_commit_timestamp(xmin) ts FROM ticks WHERE pg_xact_commit_timestamp(xmin) > '$1'),
            o AS (SELECT ts, lead(ts) OVER (ORDER BY ts) nxt FROM c)
       SELECT to_char((ts + (nxt - ts) / 2) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
       FROM o WHERE nxt IS NOT NULL ORDER BY ts LIMIT 1"
}
LAST_TICK=$(q "SELECT max(pg_xact_commit_timestamp(xmin)) FROM ticks")
n=0
for moment in "$WINDOW_START_REAL" "$(q "SELECT '$LAST_TICK'::timestamptz - interval '3 s'")"; do
    TARGET=$(sample_between "$moment")
    [ -n "$TARGET" ] || fail "no tick after $moment"
    WANT=$(q "SELECT count(*) FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= '$TARGET'")
    n=$((n + 1))
    restore_into "$T/pitr$n" --to "$TARGET" --port "$(free_port)" --start
    GOT=$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM ticks")
    expect_eq "$GOT" "$WANT" "ticks restored at $TARGET (backup $(jq -r .backup "$OUT"))"
    stop_server "$T/pitr$n"
    ok "restore to $TARGET inside the window is exact ($GOT ticks)"
done

# Just before the window's first backup became consistent: refused, stating the window.
BEFORE=$(q "SELECT to_char(('$ANCHOR_STOP'::timestamptz - interval '300 ms') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
expect_exit 9 lb restore --repo "$REPO" --to "$BEFORE" --target-dir "$T/refused"
expect_in "$ERR" "outside the restorable window \\(20"
[ ! -e "$T/refused" ] || fail "a refused restore left $T/refused behind"

# The pinned backup outlived its age, restores on its own, and goes once unpinned.
restore_into "$T/pinned" --backup "$PINNED" --to consistent --port "$(free_port)" --start
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM churn")" = 20000 ] || fail "pinned backup: churn rows"
stop_server "$T/pinned"
expect_exit 0 lb unpin --repo "$REPO" "$PINNED"
expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --json
# (The simulated clock ran on meanwhile, so the window has moved on too.)
jq -e --arg id "$PINNED" '.expired | index($id)' "$OUT" >/dev/null || fail "$PINNED survived after unpin"
expect_eq "$(kept_ids "$OUT")" "$(expected_ids "$OUT" "")" "kept backups after unpin"
expect_exit 0 lb verify --repo "$REPO"
finish
