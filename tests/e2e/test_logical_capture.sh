#!/usr/bin/env bash
# The change stream of a postgres-logical source (issue 14, capture side), against PostgreSQL 15
# with wal_level = logical and a REPLICATION role without superuser: capture refuses clearly
# without a backup and without its slot; after a backup it stores each commit within about a
# second, a transaction larger than logical_decoding_work_mem arrives streamed, DDL arrives as a
# 'lifeboat.ddl' message, sequences are sampled; SIGKILL loses nothing that was stored and
# confirmed (a restart resumes at the stored end: no committed row missing, none twice), the
# slot's confirmed position never passes a commit that is not stored, an idle database's slot
# advances, list --json shows the window end moving with the captured commits, SIGTERM stores
# what is held and exits 0 with the commit-to-stored lag (p50/p99) of a pgbench load.
source "$(dirname "$0")/lib.sh" "$@"

DUMP_BIN="$(cd "$(dirname "$LB_SOURCE_BINARY")/../.." && pwd)/tests/change_log_dump"
[ -x "$DUMP_BIN" ] || fail "build change_log_dump first (ninja -C build change_log_dump)"
cp "$DUMP_BIN" "$T/bin/change_log_dump"
chmod 755 "$T/bin/change_log_dump"
dump() { as_pg "$T/bin/change_log_dump" "$REPO"; }

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
logical_decoding_work_mem = 64kB
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }
a "CREATE TABLE events (id bigint PRIMARY KEY, note text, lsn pg_lsn NOT NULL DEFAULT pg_current_wal_insert_lsn())
   ; CREATE TABLE big (id int PRIMARY KEY, body text)
   ; CREATE SEQUENCE ticket_seq
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep
   ; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO lbrep" >/dev/null
EVENTS=$(a "SELECT 'events'::regclass::oid")

# Without a logical backup there is nothing to continue.
expect_exit 1 lb capture --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "no postgres-logical backup yet"
expect_exit 2 lb capture --repo "$REPO" --pg "$APP_REP"
expect_one_line_error
expect_in "$ERR" "give --source-kind postgres-logical"

expect_exit 10 lb logical-setup --pg "$APP_REP"
expect_in "$OUT" "^missing .*CREATE EVENT TRIGGER lifeboat_capture_ddl ON ddl_command_end"
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply --json
[ "$(jq -r .ddl_capture "$OUT")" = true ] || fail "logical-setup --apply did not create the DDL trigger"
expect_exit 0 lb logical-setup --pg "$APP_REP"
ok "logical-setup creates the publication and the DDL-capture trigger"

a "INSERT INTO events (id, note) SELECT g, 'before' FROM generate_series(1, 10) g; SELECT nextval('ticket_seq')" >/dev/null
CONNINFO=$APP_REP backup_json --source-kind postgres-logical
SLOT=$(a "SELECT slot_name FROM pg_replication_slots")

CAPTURES=0
# start_capture [extra options]: capture in the background; CAPTURE_PID is lifeboat's own pid.
start_capture() {
    CAPTURES=$((CAPTURES + 1))
    CAPTURE_OUT="$T/capture-$CAPTURES.out"
    CAPTURE_ERR="$T/capture-$CAPTURES.err"
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$REPO" \
        --pg "$APP_REP" --source-kind postgres-logical --json "$@" >"$CAPTURE_OUT" 2>"$CAPTURE_ERR" &
    BG_PIDS+=($!)
    CAPTURE_JOB=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$T/capture.pid" ] && break
        sleep 0.1
    done
    CAPTURE_PID=$(cat "$T/capture.pid")
    rm -f "$T/capture.pid"
    for i in $(seq 1 300); do
        [ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && return 0
        kill -0 "$CAPTURE_PID" 2>/dev/null || { cat "$CAPTURE_ERR" >&2; fail "capture ended at start"; }
        sleep 0.1
    done
    fail "capture did not start streaming"
}
# wait_stored REGEX [seconds]: until the dump shows REGEX; prints the seconds waited.
wait_stored() {
    local re=$1 limit=${2:-60} started waited
    started=$(date +%s.%N)
    while ! dump | grep -E -q -- "$re"; do
        waited=$(echo "$(date +%s.%N) - $started" | bc)
        if [ "$(echo "$waited > $limit" | bc)" = 1 ]; then
            dump | tail -n 20 >&2
            fail "not stored after ${limit} s: /$re/"
        fi
        sleep 0.05
    done
    echo "$(date +%s.%N) - $started" | bc
}
lsn_le() { [ "$(a "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" = t ]; }

start_capture
a "INSERT INTO events (id, note) VALUES (11, 'first captured')" >/dev/null
SECONDS_TO_STORE=$(wait_stored "^M I $EVENTS 11$" 30)
log "a commit was stored after $SECONDS_TO_STORE s"
[ "$(echo "$SECONDS_TO_STORE < 3" | bc)" = 1 ] || defer_fail "a commit took $SECONDS_TO_STORE s to be stored (want about 1 s)"
dump >"$T/dump1"
expect_in "$T/dump1" "^object logical/[0-9A-F]{16}-[0-9A-F]{16} commits=1" "the first object"
expect_in "$T/dump1" "^X " "a session-start record"
expect_in "$T/dump1" "^S public ticket_seq " "a sequence sample"
# The first object starts at the backup's consistent point.
CONSISTENT=$(jq -r .stop_lsn "$T/backup-$BACKUP_ID.json")
FIRST_OBJECT=$(grep -m1 '^object ' "$T/dump1" | cut -d' ' -f2)
expect_eq "$(printf '%X/%X' $((16#${FIRST_OBJECT:8:8})) $((16#${FIRST_OBJECT:16:8})))" "$CONSISTENT" "the first object's start"
ok "capture stores a commit; the first object starts at the consistent point"

# A transaction larger than logical_decoding_work_mem arrives as a streamed transaction.
a "INSERT INTO big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 2000) g" >/dev/null
wait_stored "^M c " 60 >/dev/null
dump >"$T/dump2"
expect_in "$T/dump2" "^M S$" "a stream start"
[ "$(grep -c "^M I $(a "SELECT 'big'::regclass::oid") " "$T/dump2")" = 2000 ] || fail "the streamed transaction's rows are not all stored"
ok "a large transaction is stored streamed"

# DDL arrives in the stream as a message, in commit order.
a "ALTER TABLE events ADD COLUMN extra int; CREATE TABLE later (id int PRIMARY KEY)" >/dev/null
a "INSERT INTO later VALUES (1)" >/dev/null
wait_stored "^M M lifeboat.ddl .*CREATE TABLE later" 30 >/dev/null
wait_stored "^M I $(a "SELECT 'later'::regclass::oid") 1$" 30 >/dev/null
ok "DDL is stored as lifeboat.ddl messages; a table created later is captured"

# A load; while it runs the slot's confirmed position never passes a commit not yet stored, and
# SIGKILL loses nothing stored.
cat >"$T/load.sql" <<'SQL'
\set id random(1000000, 900000000)
INSERT INTO events (id, note) VALUES (:id, 'load') ON CONFLICT DO NOTHING;
SELECT nextval('ticket_seq');
SQL
chown "$PG_USER" "$T/load.sql" 2>/dev/null || true
as_pg "$PGBIN/pgbench" -n -c 2 -T 8 -f "$T/load.sql" "$APP_ADMIN" >"$T/load1.log" 2>&1 &
LOAD=$!
BG_PIDS+=($LOAD)
# rows_before LSN: ids of rows whose insert lies 64 kB before LSN (their commit, a few hundred
# bytes after the insert, is then before it).
rows_before() { a "SELECT id FROM events WHERE note <> 'before' AND lsn + 65536 < '$1'::pg_lsn ORDER BY id"; }
stored_ids() { dump | awk -v rel="$EVENTS" '$1 == "M" && $2 == "I" && $3 == rel { print $4 }' | sort; }
for round in 1 2 3; do
    sleep 1.5
    CONFIRMED=$(a "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
    rows_before "$CONFIRMED" | sort >"$T/confirmed-rows"
    stored_ids | uniq >"$T/stored-rows"
    MISSING=$(comm -23 "$T/confirmed-rows" "$T/stored-rows" | wc -l)
    [ "$MISSING" = 0 ] || fail "round $round: the slot confirmed $CONFIRMED but $MISSING committed row(s) before it are not stored"
done
kill -KILL "$CAPTURE_PID"
wait "$CAPTURE_JOB" 2>/dev/null || true
CONFIRMED=$(a "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
rows_before "$CONFIRMED" | sort >"$T/confirmed-rows"
stored_ids | uniq >"$T/stored-rows"
[ "$(comm -23 "$T/confirmed-rows" "$T/stored-rows" | wc -l)" = 0 ] || fail "after SIGKILL the slot is confirmed past rows that are not stored"
wait "$LOAD" || fail "the load failed: $(tail -n 3 "$T/load1.log")"
ok "the confirmed position never passed what was stored, SIGKILL included ($(wc -l <"$T/stored-rows") rows stored)"

start_capture
LAST=$(a "SELECT max(id) FROM events")
a "INSERT INTO events (id, note) VALUES (999999999, 'after the restart')" >/dev/null
wait_stored "^M I $EVENTS 999999999$" 30 >/dev/null
a "SELECT id FROM events WHERE note <> 'before'" | sort >"$T/all-rows"
stored_ids >"$T/stored-all"
[ "$(comm -23 "$T/all-rows" <(uniq "$T/stored-all") | wc -l)" = 0 ] || fail "committed rows are missing after the restart: $(comm -23 "$T/all-rows" <(uniq "$T/stored-all") | head -5 | tr '\n' ' ')"
[ "$(uniq -d "$T/stored-all" | wc -l)" = 0 ] || fail "rows stored twice: $(uniq -d "$T/stored-all" | head -5 | tr '\n' ' ')"
[ "$(dump | grep -c '^X ')" = 2 ] || fail "expected one session-start record per session"
ok "a restart resumes at the stored end: no committed row missing, none twice"

# list shows the window reaching the newest captured commit.
expect_exit 0 lb list --repo "$REPO" --json
LATEST=$(jq -r .window.latest "$OUT")
COMMITTED=$(a "SELECT to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM events WHERE id = 999999999")
[[ "$LATEST" == "$COMMITTED"* ]] || fail "list's window ends at $LATEST, the newest captured commit was at $COMMITTED"
a "INSERT INTO events (id, note) VALUES (999999998, 'window moves')" >/dev/null
wait_stored "^M I $EVENTS 999999998$" 30 >/dev/null
expect_exit 0 lb list --repo "$REPO" --json
LATEST2=$(jq -r .window.latest "$OUT")
[[ "$LATEST2" > "$LATEST" ]] || fail "the window end did not move ($LATEST -> $LATEST2)"
expect_exit 0 lb verify --repo "$REPO"
ok "list --json: the window end follows the captured commits ($LATEST -> $LATEST2); verify passes"

# Idle: WAL written in another database advances this database's slot.
sleep 1
IDLE_FROM=$(a "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
q "CREATE TABLE elsewhere AS SELECT g FROM generate_series(1, 20000) g" >/dev/null
TARGET=$(q "SELECT pg_current_wal_lsn()")
for i in $(seq 1 600); do
    NOW=$(a "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
    lsn_le "$TARGET" "$NOW" && break
    [ "$i" = 600 ] && fail "an idle database's slot stayed at $NOW (from $IDLE_FROM; WAL is at $TARGET)"
    sleep 0.1
done
ok "an idle database's slot advances ($IDLE_FROM -> $NOW)"

# Commit-to-stored lag under a pgbench load (rate-limited, as a production load is); SIGTERM
# stores what is held and exits 0 (what the server had not sent yet stays in the slot: the next
# capture gets it).
# A fresh session, so that only the load's commits are measured (not a catch-up).
kill -TERM "$CAPTURE_PID"
wait "$CAPTURE_JOB" || fail "capture did not exit 0 on SIGTERM"
start_capture
RATE=${LAG_RATE:-1000}
as_pg "$PGBIN/pgbench" -n -c 4 -j 2 -R "$RATE" -T 15 -f "$T/load.sql" "$APP_ADMIN" >"$T/load2.log" 2>&1 ||
    fail "the load failed: $(tail -n 3 "$T/load2.log")"
TPS=$(grep -Eo 'tps = [0-9.]+' "$T/load2.log" | head -1)
a "INSERT INTO events (id, note) VALUES (999999997, 'last before SIGTERM')" >/dev/null
wait_stored "^M I $EVENTS 999999997$" 60 >/dev/null
kill -TERM "$CAPTURE_PID"
RC=0
wait "$CAPTURE_JOB" || RC=$?
[ "$RC" = 0 ] || { cat "$CAPTURE_ERR" >&2; fail "capture exited $RC on SIGTERM"; }
a "SELECT id FROM events WHERE note <> 'before'" | sort >"$T/all-rows"
[ "$(comm -23 "$T/all-rows" <(stored_ids | uniq) | wc -l)" = 0 ] || fail "rows committed before SIGTERM are not stored"
P50=$(jq -r .lag_seconds.p50 "$CAPTURE_OUT")
P99=$(jq -r .lag_seconds.p99 "$CAPTURE_OUT")
COMMITS=$(jq -r .lag_seconds.commits "$CAPTURE_OUT")
log "commit-to-stored lag over $COMMITS commits (pgbench -c 4 -R $RATE: $TPS): p50 $P50 s, p99 $P99 s, max $(jq -r .lag_seconds.max "$CAPTURE_OUT") s"
[ "$(echo "$P99 < 2" | bc)" = 1 ] || defer_fail "p99 commit-to-stored lag $P99 s (target < 2 s)"
[ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] || fail "the slot is still in use after SIGTERM"
ok "SIGTERM stores what is held and exits 0"

# SIGTERM in the middle of a load: exit 0, and the confirmed position covers only what is stored.
# Heartbeat messages (emitted by the replication role) are never stored.
expect_exit 2 lb capture --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical --flush-interval 1x
expect_one_line_error
start_capture --heartbeat-interval 200ms
as_pg "$PGBIN/pgbench" -n -c 2 -T 4 -f "$T/load.sql" "$APP_ADMIN" >"$T/load3.log" 2>&1 &
LOAD=$!
BG_PIDS+=($LOAD)
sleep 2
kill -TERM "$CAPTURE_PID"
RC=0
wait "$CAPTURE_JOB" || RC=$?
[ "$RC" = 0 ] || { cat "$CAPTURE_ERR" >&2; fail "capture exited $RC on SIGTERM under load"; }
CONFIRMED=$(a "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
rows_before "$CONFIRMED" | sort >"$T/confirmed-rows"
[ "$(comm -23 "$T/confirmed-rows" <(stored_ids | uniq) | wc -l)" = 0 ] || fail "after SIGTERM the slot is confirmed past rows that are not stored"
wait "$LOAD" || true
if grep -q 'heartbeat messages failed' "$CAPTURE_ERR"; then
    log "heartbeats: $(cat "$CAPTURE_ERR")"
fi
dump | grep -q 'lifeboat.heartbeat' && fail "a heartbeat message was stored"
ok "SIGTERM under load: exit 0, nothing confirmed that is not stored; heartbeats not stored"

# Killed after storing an object and before confirming it: the next session continues after the
# stored object (the server's confirmed position is older), and nothing is stored twice.
a "INSERT INTO events (id, note) VALUES (999999990, 'stored, then killed')" >/dev/null
expect_failure as_pg env LIFEBOAT_TEST_STAGE_HOOK=capture:confirm:kill "$LB" capture --repo "$REPO" \
    --pg "$APP_REP" --source-kind postgres-logical
start_capture
a "INSERT INTO events (id, note) VALUES (999999991, 'after the kill')" >/dev/null
wait_stored "^M I $EVENTS 999999991$" 30 >/dev/null
kill -TERM "$CAPTURE_PID"
wait "$CAPTURE_JOB" || fail "capture did not exit 0 on SIGTERM"
a "SELECT id FROM events WHERE note <> 'before'" | sort >"$T/all-rows"
stored_ids >"$T/stored-all"
[ "$(comm -23 "$T/all-rows" <(uniq "$T/stored-all") | wc -l)" = 0 ] || fail "rows missing after a kill between store and confirm"
[ "$(uniq -d "$T/stored-all" | wc -l)" = 0 ] || fail "rows stored twice after a kill between store and confirm"
ok "killed between store and confirm: nothing missing, nothing twice"

# A missing slot: a new base backup is needed.
a "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
expect_exit 1 lb capture --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "slot $SLOT does not exist.*take a new base backup"
ok "a missing slot is refused"
finish
