#!/usr/bin/env bash
# A postgres-logical source restored to a time (issue 14): after a base backup, a workload of
# inserts, updates, deletes, an UPDATE that leaves a TOASTed value unchanged and one that
# replaces it, DDL (ADD COLUMN, CREATE TABLE, DROP TABLE) captured by an event trigger as
# lifeboat.ddl messages, a TRUNCATE, a streamed large transaction with a rolled-back
# subtransaction, and an aborted transaction. The change log objects are produced by a test-only
# stand-in for the capture (logical_log.py reads the backup's slot over SQL and writes LBCL
# objects; the hidden `logical-push` command stores them). Each step is followed by a target
# time read after its commits and before the next step's; the restore to each target (and to
# latest) must have the source's ordered row hashes and sequence values at that time. A capture
# session ending inside a streamed transaction checks the session start record's handling (the
# server sends the transaction again). Then --only and --target-pg.
HELPER="$(cd "$(dirname "$0")" && pwd)/logical_log.py"
source "$(dirname "$0")/lib.sh" "$@"
cp "$HELPER" "$T/bin/logical_log.py"

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
# Small, so that the large transaction is streamed before it commits.
logical_decoding_work_mem = 64kB
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }

a "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int)
   ; CREATE TABLE docs (id int PRIMARY KEY, title text, body text)
   ; CREATE TABLE scratch (id int PRIMARY KEY, v text)
   ; CREATE TABLE go (id int PRIMARY KEY)
   ; INSERT INTO items (name, qty) SELECT 'item ' || g, g FROM generate_series(1, 1000) g
   ; INSERT INTO docs SELECT g, 'title ' || g, (SELECT string_agg(md5(g || '-' || s), '') FROM generate_series(1, 2000) s) FROM generate_series(1, 5) g
   ; INSERT INTO scratch SELECT g, 'v' || g FROM generate_series(1, 100) g
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep
   ; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lbrep" >/dev/null
# The DDL-capture event trigger comes from logical-setup, as an operator would get it.
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply

# Ordered row hashes of every table and the sequence's state.
state() {
    psql_on "$1" "SELECT (SELECT md5(string_agg(i::text, '|' ORDER BY id)) FROM items i),
        (SELECT md5(string_agg(d::text, '|' ORDER BY id)) FROM docs d),
        (SELECT md5(string_agg(s::text, '|' ORDER BY id)) FROM scratch s)"
    if [ "$(psql_on "$1" "SELECT to_regclass('extra') IS NULL")" = t ]; then
        echo "no extra"
    else
        psql_on "$1" "SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY id), '')) FROM extra e"
    fi
}
sequence_state() { psql_on "$1" "SELECT last_value || '/' || is_called FROM items_id_seq"; }
# A time after every commit so far and before any later one.
now_utc() { a "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }

CONNINFO=$APP_REP backup_json --source-kind postgres-logical
START=$(jq -r .start_lsn "$OUT")
SLOT=$(a "SELECT slot_name FROM pg_replication_slots")
# The backup's replication connection may still hold the slot for a moment after it returns.
for _ in $(seq 1 600); do
    [ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] && break
    sleep 0.05
done
[ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] ||
    fail "the backup's slot stayed in use"
mkdir -p "$T/objects"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$T/objects"; fi
OBJECTS=0
# capture: one change log object with what the slot holds now, stored in the repository.
capture() {
    local line
    line=$(as_pg python3 "$T/bin/logical_log.py" "$APP_ADMIN" "$SLOT" "$START" "$T/objects")
    [ -n "$line" ] || return 0
    read -r name path end <<<"$line"
    expect_exit 0 lb logical-push --repo "$REPO" "$name" "$path"
    START=$end
    LAST_OBJECT=$path
    OBJECTS=$((OBJECTS + 1))
}

TARGETS=()
declare -A WANT WANT_SEQ
mark() {
    local t
    t=$(now_utc)
    TARGETS+=("$t")
    WANT[$t]=$(state "$APP_ADMIN")
    WANT_SEQ[$t]=$(sequence_state "$APP_ADMIN")
    capture
}
mark  # before any change: the base alone

a "INSERT INTO items (name, qty) SELECT 'new ' || g, g FROM generate_series(1, 500) g" >/dev/null
a "UPDATE items SET qty = qty * 10 WHERE id % 10 = 0" >/dev/null
a "DELETE FROM items WHERE id % 20 = 1" >/dev/null
a "UPDATE items SET id = id + 100000 WHERE id = 2" >/dev/null  # the key itself changes
mark

# TOAST: a title change leaves the large body unchanged ('u'); then one body is replaced.
a "UPDATE docs SET title = 'retitled ' || id" >/dev/null
a "UPDATE docs SET body = (SELECT string_agg(md5('new' || s), '') FROM generate_series(1, 3000) s) WHERE id = 3" >/dev/null
a "UPDATE docs SET body = NULL WHERE id = 5" >/dev/null
mark

# DDL in place, each statement on its own (the event trigger records the statement's text).
a "ALTER TABLE items ADD COLUMN note text DEFAULT 'none'" >/dev/null
a "UPDATE items SET note = 'noted ' || id WHERE id % 7 = 0" >/dev/null
a "CREATE TABLE extra (id int PRIMARY KEY, v text)" >/dev/null
a "INSERT INTO extra SELECT g, 'extra ' || g FROM generate_series(1, 300) g" >/dev/null
a "INSERT INTO items (name, qty, note) VALUES ('after ddl', 1, 'x')" >/dev/null
mark

# A streamed large transaction with a rolled-back subtransaction, and an aborted transaction.
a "BEGIN; INSERT INTO items (name, qty) SELECT 'bulk ' || g, g FROM generate_series(1, 20000) g;
   SAVEPOINT s; DELETE FROM items; INSERT INTO extra VALUES (-1, 'rolled back'); ROLLBACK TO SAVEPOINT s;
   UPDATE items SET qty = -qty WHERE id % 1000 = 0; COMMIT" >/dev/null
a "BEGIN; INSERT INTO items (name, qty) SELECT 'aborted ' || g, g FROM generate_series(1, 20000) g; ROLLBACK" >/dev/null
mark

# A capture session that ends inside a streamed transaction: its object holds the first chunks,
# the next session (its session start record) gets the whole transaction again, and the restore
# must apply it once (a second copy would violate the primary key).
as_pg psql -X -q -v ON_ERROR_STOP=1 "$APP_ADMIN" -c "BEGIN;
    INSERT INTO items (name, qty) SELECT 'long ' || g, g FROM generate_series(1, 20000) g;
    SELECT set_config('application_name', 'long-inserted', false);
    DO \$\$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM go) LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$;
    UPDATE items SET name = 'long done' WHERE name = 'long 1'; COMMIT" >/dev/null &
LONG=$!
BG_PIDS+=("$LONG")
for _ in $(seq 1 1200); do
    [ "$(a "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'long-inserted'")" = 1 ] && break
    sleep 0.05
done
[ "$(a "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'long-inserted'")" = 1 ] ||
    fail "the long transaction did not get to its wait"
# Logical decoding reads only flushed WAL, and nothing commits to flush the long transaction's:
# wait for the WAL writer to get past it.
INSERTED=$(a "SELECT pg_current_wal_insert_lsn()")
for _ in $(seq 1 1200); do
    [ "$(a "SELECT pg_current_wal_flush_lsn() >= '$INSERTED'::pg_lsn")" = t ] && break
    sleep 0.05
done
before_cut=$OBJECTS
LAST_OBJECT=""
capture  # ends inside the long transaction
[ -n "$LAST_OBJECT" ] || fail "the capture inside the long transaction stored nothing"
# message_kinds FILE: the pgoutput message types an object holds.
message_kinds() {
    python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
seen, at = set(), 5
while at < len(data):
    kind, _, length = struct.unpack_from(">cQI", data, at)
    if kind == b"M":
        seen.add(chr(data[at + 13]))
    at += 13 + length
print("".join(sorted(seen)))
PY
}
CUT_KINDS=$(message_kinds "$LAST_OBJECT")
case "$CUT_KINDS" in
    *S*) ;;
    *) fail "the cut object holds no stream chunk ($CUT_KINDS)" ;;
esac
case "$CUT_KINDS" in
    *c*) fail "the cut object already holds the stream commit ($CUT_KINDS)" ;;
esac
a "INSERT INTO go VALUES (1)" >/dev/null
wait "$LONG" || fail "the long transaction failed"
mark

a "TRUNCATE scratch" >/dev/null
a "INSERT INTO scratch VALUES (1, 'after truncate')" >/dev/null
a "DROP TABLE extra" >/dev/null
a "DELETE FROM items WHERE id % 3 = 0" >/dev/null
mark
FINAL=$(state "$APP_ADMIN")
FINAL_SEQ=$(sequence_state "$APP_ADMIN")
# A later commit, so that every target above lies inside the window (its end is the newest
# stored commit).
a "INSERT INTO items (name, qty) VALUES ('marker', 0)" >/dev/null
capture
LATEST=$(state "$APP_ADMIN")
LATEST_SEQ=$(sequence_state "$APP_ADMIN")
[ "$OBJECTS" -ge 5 ] || fail "only $OBJECTS change log objects were stored"
# The large transaction must have been streamed (Stream Start 'S', Stream Abort 'A' for the
# rolled-back subtransaction and the aborted transaction), and the DDL sent as messages.
KINDS=$(python3 - "$T/objects" <<'PY'
import os, struct, sys
seen = set()
for name in os.listdir(sys.argv[1]):
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    at = 5
    while at < len(data):
        kind, _, length = struct.unpack_from(">cQI", data, at)
        payload = data[at + 13:at + 13 + length]
        if kind == b"M":
            seen.add(chr(payload[0]))
        at += 13 + length
print("".join(sorted(seen)))
PY
)
expect_in <(echo "$KINDS") "S.*c|c.*S" "a streamed, committed transaction in the log ($KINDS)"
expect_in <(echo "$KINDS") "A" "a stream abort in the log ($KINDS)"
expect_in <(echo "$KINDS") "M" "DDL messages in the log ($KINDS)"
expect_in <(echo "$KINDS") "T" "a truncate in the log ($KINDS)"
expect_exit 0 lb list --repo "$REPO" --json
log "window: $(jq -c '.window // .windows // empty' "$OUT" | head -c 300)"
ok "workload and $OBJECTS change log objects"

restore_and_compare() {
    local label=$1 want=$2 want_seq=$3
    shift 3
    local port dir
    port=$(free_port)
    dir="$T/r-$label"
    DATA_DIRS+=("$dir/pgdata")
    restore_into "$dir" --port "$port" --start "$@"
    local got got_seq
    got=$(state "$RESTORED_CONN")
    got_seq=$(sequence_state "$RESTORED_CONN")
    expect_eq "$got" "$want" "row hashes at $label"
    if [ -n "$want_seq" ]; then expect_eq "$got_seq" "$want_seq" "items_id_seq at $label"; fi
    ok "restore to $label: $(jq -r '"\(.phases.replay_seconds) s load+apply"' "$OUT")"
    as_pg "$PGBIN/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null
    rm -rf "$dir"
}

i=0
for t in "${TARGETS[@]}"; do
    # The first target (no change applied) keeps the base's sequence value: the first sample
    # after it was taken after later nextval calls (change_apply.hpp).
    want_seq=${WANT_SEQ[$t]}
    [ "$i" = 0 ] && want_seq=""
    # One connection and four (tables spread over them, DDL and truncates as barriers).
    restore_and_compare "target$i" "${WANT[$t]}" "$want_seq" --to "$t" --jobs $((i % 2 ? 4 : 1))
    i=$((i + 1))
done
restore_and_compare latest "$LATEST" "$LATEST_SEQ" --to latest --jobs 3
[ "$FINAL" != "$LATEST" ] || fail "the marker changed nothing"

# --only: one table (its base and its changes), here after the DDL that added a column.
T3=${TARGETS[3]}
PORT=$(free_port)
DATA_DIRS+=("$T/only/pgdata")
restore_into "$T/only" --to "$T3" --only public.items --port "$PORT" --start
ITEMS_WANT=$(echo "${WANT[$T3]}" | head -1 | cut -d'|' -f1)
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT md5(string_agg(i::text, '|' ORDER BY id)) FROM items i")" \
    "$ITEMS_WANT" "items restored alone"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 1 \
    "tables besides the one asked for"
as_pg "$PGBIN/pg_ctl" -D "$T/only/pgdata" -m fast -w stop >/dev/null
expect_exit 1 lb restore --repo "$REPO" --to "$T3" --only public.nosuch --target-dir "$T/nosuch" --start
expect_one_line_error
expect_in "$ERR" "holds no table public.nosuch"
ok "restore --only public.items"

# --target-pg: an existing, empty database on another server (here the source's own server).
q "CREATE DATABASE into_here" >/dev/null
INTO="host=$T port=$SRC_PORT user=$PG_USER dbname=into_here"
T4=${TARGETS[4]}
expect_exit 0 lb restore --repo "$REPO" --to "$T4" --target-pg "$INTO" --target-dir "$T/stage" --json
expect_eq "$(state "$INTO")" "${WANT[$T4]}" "row hashes loaded into --target-pg"
expect_eq "$(sequence_state "$INTO")" "${WANT_SEQ[$T4]}" "items_id_seq in --target-pg"
expect_exit 7 lb restore --repo "$REPO" --to "$T4" --target-pg "$INTO" --target-dir "$T/stage2"
expect_one_line_error
expect_in "$ERR" "not empty"
ok "restore --target-pg into an existing empty database"
finish
