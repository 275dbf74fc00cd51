#!/usr/bin/env bash
# Core acceptance: a backup taken while pgbench and a ticker write, then a point-in-time restore
# to a moment strictly between two commits. The restored instance must hold exactly the
# transactions that committed at or before the target, judged by the source's commit timestamps.
source "$(dirname "$0")/lib.sh" "$@"

WRITE_SECONDS=25

start_source
q "CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
as_pg pgbench -i -s 2 -q "$CONNINFO" >"$T/pgbench-init.log" 2>&1 || { cat "$T/pgbench-init.log" >&2; fail "pgbench -i failed"; }
ok "source initialised (pgbench scale 2)"

log "writing for $WRITE_SECONDS s: pgbench -c 2 and a ticker (one committed row per ~100 ms)"
as_pg pgbench -c 2 -T "$WRITE_SECONDS" -n "$CONNINFO" >"$T/pgbench.log" 2>&1 &
PGBENCH_PID=$!
BG_PIDS+=("$PGBENCH_PID")
# One transaction per row: COMMIT inside a top-level DO block.
as_pg psql -X -q -v ON_ERROR_STOP=1 "$CONNINFO" -c "
DO \$\$
DECLARE stop_at timestamptz := clock_timestamp() + interval '$WRITE_SECONDS seconds';
BEGIN
  WHILE clock_timestamp() < stop_at LOOP
    INSERT INTO ticks DEFAULT VALUES;
    COMMIT;
    PERFORM pg_sleep(0.1);
  END LOOP;
END
\$\$" >"$T/ticker.log" 2>&1 &
TICKER_PID=$!
BG_PIDS+=("$TICKER_PID")
WRITERS_STARTED=$(date +%s)

sleep 4
log "backing up while the writers run"
backup_json --tag purpose=e2e
BACKUP_STOP=$(jq -r .stop_time "$OUT")
jq -e '.tags.purpose == "e2e"' "$OUT" >/dev/null || fail "backup --json does not show tag purpose=e2e"
BACKUP_DONE=$(date +%s)
ok "backup $BACKUP_ID (stop_time $BACKUP_STOP) after $(( BACKUP_DONE - WRITERS_STARTED )) s of writing"
if [ $(( WRITERS_STARTED + WRITE_SECONDS - BACKUP_DONE )) -lt 8 ]; then
    log "warning: the backup took long; fewer than 8 s of writing remain after it"
fi

wait "$PGBENCH_PID" || { cat "$T/pgbench.log" >&2; fail "pgbench failed"; }
wait "$TICKER_PID" || { cat "$T/ticker.log" >&2; fail "ticker failed"; }
BG_PIDS=()
log "writers done: $(grep -E '^(number of transactions actually processed|tps)' "$T/pgbench.log" | head -n 2 | tr '\n' ' ')"

TICKS_TOTAL=$(q "SELECT count(*) FROM ticks")
HISTORY_TOTAL=$(q "SELECT count(*) FROM pgbench_history")
[ "$TICKS_TOTAL" -gt 100 ] || fail "the ticker committed only $TICKS_TOTAL rows"

# The target: strictly between two consecutive ticker commits, at least 2 s after the backup
# became consistent and 1 s before the last tick. Of all such moments, take the middle of the
# widest gap between any two consecutive commits (ticker or pgbench): a commit record's timestamp
# is taken just before it is written to WAL, so with concurrent writers two commits a few
# microseconds apart may appear in WAL in the opposite order of their timestamps; a wide gap keeps
# the expected set unambiguous.
TARGET=$(q "
WITH c AS (
  SELECT pg_xact_commit_timestamp(xmin) AS ts FROM ticks
  UNION
  SELECT pg_xact_commit_timestamp(xmin) FROM pgbench_history
), o AS (
  SELECT ts, lead(ts) OVER (ORDER BY ts) AS nxt FROM c
), bounds AS (
  SELECT '$BACKUP_STOP'::timestamptz + interval '2 s' AS lo,
         (SELECT max(pg_xact_commit_timestamp(xmin)) FROM ticks) - interval '1 s' AS hi
)
SELECT to_char((ts + (nxt - ts) / 2) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
FROM o, bounds
WHERE ts >= lo AND nxt <= hi
ORDER BY nxt - ts DESC, ts
LIMIT 1")
[ -n "$TARGET" ] || fail "no target time found at least 2 s after the backup (stop_time $BACKUP_STOP); writers ran too briefly"
GAP=$(q "SELECT min(abs(extract(epoch FROM pg_xact_commit_timestamp(xmin) - '$TARGET'::timestamptz)) * 1000)::numeric(10,3)
         FROM (SELECT xmin FROM ticks UNION ALL SELECT xmin FROM pgbench_history) x")
TICK_BEFORE=$(q "SELECT max(pg_xact_commit_timestamp(xmin)) FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= '$TARGET'")
TICK_AFTER=$(q "SELECT min(pg_xact_commit_timestamp(xmin)) FROM ticks WHERE pg_xact_commit_timestamp(xmin) > '$TARGET'")
[ -n "$TICK_BEFORE" ] && [ -n "$TICK_AFTER" ] || fail "target $TARGET is not between two ticks"
log "target $TARGET (between ticks committed at $TICK_BEFORE and $TICK_AFTER; nearest commit $GAP ms away)"

WANT_TICKS=$(q "SELECT count(*) FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= '$TARGET'")
WANT_TICKS_MAX=$(q "SELECT max(id) FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= '$TARGET'")
WANT_HISTORY=$(q "SELECT count(*) FROM pgbench_history WHERE pg_xact_commit_timestamp(xmin) <= '$TARGET'")
[ "$WANT_TICKS" -lt "$TICKS_TOTAL" ] && [ "$WANT_HISTORY" -lt "$HISTORY_TOTAL" ] ||
    fail "the target is after every commit; nothing would tell a PITR from a full replay"
log "expected at the target: $WANT_TICKS of $TICKS_TOTAL ticks (max id $WANT_TICKS_MAX), $WANT_HISTORY of $HISTORY_TOTAL pgbench transactions"

switch_wal_and_wait
ok "WAL switched and archived"

expect_exit 0 lb list --repo "$REPO" --json
cp "$OUT" "$T/list.json"
jq -e --arg id "$BACKUP_ID" '[.backups[] | select(.id == $id and .restorable == true and .tags.purpose == "e2e")] | length == 1' "$T/list.json" >/dev/null ||
    { cat "$T/list.json" >&2; fail "list --json does not show backup $BACKUP_ID as restorable with its tag"; }
EARLIEST=$(jq -r .window.earliest "$T/list.json")
LATEST=$(jq -r .window.latest "$T/list.json")
IN_WINDOW=$(q "SELECT '$EARLIEST'::timestamptz <= '$TARGET'::timestamptz AND '$TARGET'::timestamptz < '$LATEST'::timestamptz")
[ "$IN_WINDOW" = t ] || { cat "$T/list.json" >&2; fail "window $EARLIEST .. $LATEST does not contain $TARGET"; }
ok "list: backup listed, window $EARLIEST .. $LATEST contains the target"

R1="$T/r1"
R1_PORT=$(free_port)
log "restoring to $TARGET"
restore_into "$R1" --to "$TARGET" --port "$R1_PORT" --start
cp "$OUT" "$T/restore.json"
jq -e --arg id "$BACKUP_ID" '.backup == $id and .started == true and
      (.phases.files_seconds | type) == "number" and (.phases.replay_seconds | type) == "number" and
      (.phases.ready_seconds | type) == "number" and (.total_seconds | type) == "number"' "$T/restore.json" >/dev/null ||
    { cat "$T/restore.json" >&2; fail "restore --json lacks the backup id, started or phase timings"; }
[ -n "$RESTORED_CONN" ] || fail "restore --json printed no conninfo"
ok "restored: $(jq -c '{phases, total_seconds, port}' "$T/restore.json")"
R="$RESTORED_CONN"

# (a) the ticker: exactly the rows committed at or before the target.
GOT_TICKS=$(psql_on "$R" "SELECT count(*) FROM ticks")
GOT_TICKS_MAX=$(psql_on "$R" "SELECT max(id) FROM ticks")
expect_eq "$GOT_TICKS" "$WANT_TICKS" "ticks rows after restore"
expect_eq "$GOT_TICKS_MAX" "$WANT_TICKS_MAX" "max(ticks.id) after restore"
ok "(a) ticks: $GOT_TICKS rows, max id $GOT_TICKS_MAX"

# (b) pgbench: every transaction up to the target, none after it.
GOT_HISTORY=$(psql_on "$R" "SELECT count(*) FROM pgbench_history")
expect_eq "$GOT_HISTORY" "$WANT_HISTORY" "pgbench_history rows after restore"
LATE=$(psql_on "$R" "SELECT count(*) FROM pgbench_history WHERE pg_xact_commit_timestamp(xmin) > '$TARGET'")
expect_eq "$LATE" 0 "restored pgbench_history rows committed after the target"
LATE=$(psql_on "$R" "SELECT count(*) FROM ticks WHERE pg_xact_commit_timestamp(xmin) > '$TARGET'")
expect_eq "$LATE" 0 "restored ticks rows committed after the target"
ok "(b) pgbench_history: $GOT_HISTORY rows, none committed after the target"

# (c) lifeboat's own validation of the restored instance.
expect_exit 0 lb validate --pg "$R"
ok "(c) validate passed: $(tail -n 1 "$OUT")"

# (d) pgbench's invariant: balances equal the sum of the logged deltas.
BAL=$(psql_on "$R" "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
                      AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
                      AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)")
expect_eq "$BAL" t "pgbench balance invariant on the restored instance"
ok "(d) sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta)"

stop_server "$R1"
ok "restored instance stopped"

# The window's first instant (the backup's stop_time) is restorable too: recovery must reach
# consistency (the end of the backup) before it stops, with writers busy all along.
R2="$T/r2"
log "restoring to the window's start $EARLIEST"
restore_into "$R2" --to "$EARLIEST" --port "$(free_port)" --start
R="$RESTORED_CONN"
WANT_TICKS=$(q "SELECT count(*) FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= '$EARLIEST'")
expect_eq "$(psql_on "$R" "SELECT count(*) FROM ticks")" "$WANT_TICKS" "ticks rows after restore to the window's start"
LATE=$(psql_on "$R" "SELECT count(*) FROM pgbench_history WHERE pg_xact_commit_timestamp(xmin) > '$EARLIEST'")
expect_eq "$LATE" 0 "pgbench_history rows committed after the window's start"
BAL=$(psql_on "$R" "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)")
expect_eq "$BAL" t "pgbench balance invariant after restore to the window's start"
ok "restore to the window's start: $WANT_TICKS ticks, nothing later, balances consistent"
stop_server "$R2"
finish
