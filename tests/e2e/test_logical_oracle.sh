#!/usr/bin/env bash
# The logical restore against an oracle (issue 14's acceptance): one PostgreSQL 15 source is
# backed up twice by Lifeboat, physically (archive_command) and logically (a base backup and the
# `capture` command, as a REPLICATION role without superuser). Under a mixed load — inserts,
# updates, deletes, a large (streamed) transaction, TOASTed values, a sequence in use, and DDL
# (ADD COLUMN, CREATE TABLE, CREATE INDEX, DROP TABLE) in the middle — both are restored to
# ORACLE_TARGETS (default 12; 100 for the full run) times chosen at random over the whole load,
# and the logical restore's tables (columns, ordered row hashes) and indexes must equal the
# physical restore's every time. Sequences: the logical value is never behind the restored rows
# (items_id_seq at least the largest restored id: the next insert cannot collide), as it comes
# from a sample taken after the last applied commit; how often it equals the physical restore's
# is printed (a physical recovery also replays the nextval calls of transactions still open at
# its stop, which no sample taken by a replication role can place; PostgreSQL 15's pgoutput
# carries no sequence changes).
source "$(dirname "$0")/lib.sh" "$@"

TARGETS=${ORACLE_TARGETS:-12}
LREPO="$T/logical-repo"
lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
lb repo-init --repo "$LREPO" >/dev/null || fail "repo-init of the logical repository failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
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

a "CREATE SEQUENCE ticket
   ; CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int)
   ; CREATE TABLE docs (id int PRIMARY KEY, title text, body text)
   ; CREATE TABLE scratch (id int PRIMARY KEY, v text)
   ; INSERT INTO items (name, qty) SELECT 'item ' || g, g FROM generate_series(1, 2000) g
   ; INSERT INTO docs SELECT g, 'title ' || g, (SELECT string_agg(md5(g || '-' || s), '') FROM generate_series(1, 1000) s) FROM generate_series(1, 10) g
   ; INSERT INTO scratch SELECT g, 'v' || g FROM generate_series(1, 200) g
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep
   ; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO lbrep" >/dev/null
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply

# Both backups, then the change stream in the background.
backup_json
expect_exit 0 lb backup --repo "$LREPO" --pg "$APP_REP" --source-kind postgres-logical --json
SLOT=$(a "SELECT slot_name FROM pg_replication_slots")
for _ in $(seq 1 600); do
    [ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = f ] && break
    sleep 0.05
done
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$LREPO" \
    --pg "$APP_REP" --source-kind postgres-logical --json >"$T/capture.out" 2>"$T/capture.err" &
BG_PIDS+=($!)
for _ in $(seq 1 300); do
    [ -s "$T/capture.pid" ] && [ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && break
    sleep 0.1
done
[ "$(a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] ||
    { cat "$T/capture.err" >&2; fail "capture did not start streaming"; }
CAPTURE_PID=$(cat "$T/capture.pid")

# The load: small steps, so that random times fall between many different commits.
now_utc() { a "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
FIRST=$(now_utc)
for round in 1 2 3 4 5 6; do
    a "INSERT INTO items (name, qty) SELECT 'r$round-' || g, g FROM generate_series(1, 50) g" >/dev/null
    a "UPDATE items SET qty = qty + $round WHERE id % 7 = $round" >/dev/null
    a "DELETE FROM scratch WHERE id % 13 = $round" >/dev/null
    a "SELECT nextval('ticket') FROM generate_series(1, 5)" >/dev/null
    a "UPDATE docs SET title = 'r$round ' || title WHERE id = $round" >/dev/null  # TOASTed body unchanged
    case $round in
    2)  # a large transaction: streamed (logical_decoding_work_mem = 64kB), with a rolled-back part
        a "BEGIN; INSERT INTO scratch SELECT g, repeat('x', 100) FROM generate_series(1000, 6000) g;
           SAVEPOINT s; DELETE FROM scratch WHERE id < 1100; ROLLBACK TO s;
           UPDATE items SET name = name || '!' WHERE id < 500; COMMIT" >/dev/null ;;
    3)  # the DDL burst
        a "ALTER TABLE items ADD COLUMN note text" >/dev/null
        a "UPDATE items SET note = 'n' || id WHERE id % 5 = 0" >/dev/null
        a "CREATE TABLE extra (id int PRIMARY KEY, v text)" >/dev/null
        a "INSERT INTO extra SELECT g, md5(g::text) FROM generate_series(1, 100) g" >/dev/null
        a "CREATE INDEX items_qty ON items (qty)" >/dev/null
        a "UPDATE docs SET body = body || 'changed' WHERE id = 7" >/dev/null ;;
    4)
        a "UPDATE extra SET v = 'u' || v WHERE id % 3 = 0" >/dev/null
        a "DROP TABLE scratch" >/dev/null
        a "CREATE TABLE scratch (id int PRIMARY KEY, v text)" >/dev/null ;;
    5)
        a "INSERT INTO scratch SELECT g, 'again' || g FROM generate_series(1, 30) g" >/dev/null ;;
    esac
done
LAST=$(now_utc)
LAST_COMMIT_LSN=$(a "SELECT pg_current_wal_lsn()")

# Wait for both repositories to hold everything: the WAL archived, the change log stored.
switch_wal_and_wait
# The slot is confirmed only for what is stored (or while nothing is held).
stored=f
for _ in $(seq 1 300); do
    stored=$(a "SELECT confirmed_flush_lsn >= '$LAST_COMMIT_LSN' FROM pg_replication_slots WHERE slot_name = '$SLOT'")
    [ "$stored" = t ] && break
    sleep 0.1
done
[ "$stored" = t ] || fail "the change log did not reach the end of the load"
kill -TERM "$CAPTURE_PID"
for _ in $(seq 1 300); do kill -0 "$CAPTURE_PID" 2>/dev/null || break; sleep 0.1; done
log "capture: $(jq -c '{objects, commits, lag_seconds}' "$T/capture.out" 2>/dev/null)"
expect_exit 0 lb list --repo "$LREPO" --json
LWINDOW=$(jq -c '.window | {earliest, latest, gap}' "$OUT")
LLATEST=$(jq -r '.window.latest' "$OUT")
log "logical window: $LWINDOW"
expect_exit 0 lb list --repo "$REPO" --json
PLATEST=$(jq -r '.window.latest' "$OUT")
log "physical window ends at $PLATEST"
# Targets lie between the start of the load and the newest commit both repositories hold.
if [[ "$PLATEST" < "$LLATEST" ]]; then LAST=$PLATEST; else LAST=$LLATEST; fi

tables_state() {
    local conn=$1 t
    for t in $(psql_on "$conn" "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1"); do
        psql_on "$conn" "SELECT '$t(' || (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.$t'::regclass AND attnum > 0 AND NOT attisdropped) || ') ' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), 'empty') FROM public.$t r"
    done
    psql_on "$conn" "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
}
sequences_state() {
    psql_on "$1" "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, 'unset'), ',' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'"
}
restore_state() {  # REPO LABEL TIME -> STATE_FILE, SEQ
    local repo=$1 label=$2 target=$3 dir port conn
    dir="$T/$label"
    port=$(free_port)
    DATA_DIRS+=("$dir" "$dir/pgdata")
    expect_exit 0 lb restore --repo "$repo" --to "$target" --target-dir "$dir" --port "$port" --start --json
    conn="$(jq -r .conninfo "$OUT") dbname=app"
    tables_state "$conn" >"$T/$label.state"
    sequences_state "$conn" >"$T/$label.seq"
    psql_on "$conn" "SELECT coalesce(max(id), 0) FROM items" >"$T/$label.maxid"
    if [ -d "$dir/pgdata" ]; then stop_server "$dir/pgdata"; else stop_server "$dir"; fi
    as_pg rm -rf "$dir"
}

# Random times over the whole load (microseconds), the same for both restores.
first_us=$(date -u -d "$FIRST" +%s%6N)
last_us=$(date -u -d "$LAST" +%s%6N)
span=$((last_us - first_us))
EQUAL_SEQ=0
BEHIND_PHYSICAL=0
for i in $(seq 1 "$TARGETS"); do
    offset=$(( (RANDOM * 32768 + RANDOM) % span ))
    us=$((first_us + offset))
    target=$(date -u -d "@$((us / 1000000))" +%Y-%m-%dT%H:%M:%S).$(printf '%06d' $((us % 1000000)))Z
    restore_state "$REPO" "physical-$i" "$target"
    restore_state "$LREPO" "logical-$i" "$target"
    if ! cmp -s "$T/physical-$i.state" "$T/logical-$i.state"; then
        diff "$T/physical-$i.state" "$T/logical-$i.state" >&2 || true
        fail "target $i ($target): the logical restore differs from the physical one"
    fi
    phys=$(cat "$T/physical-$i.seq")
    logi=$(cat "$T/logical-$i.seq")
    # Never behind the restored rows: the next id drawn cannot collide with one restored.
    seq_value=$(tr ',' '\n' <<<"$logi" | sed -n 's/^items_id_seq=//p')
    max_id=$(cat "$T/logical-$i.maxid")
    [ "$seq_value" != unset ] && [ "$seq_value" -ge "$max_id" ] ||
        fail "target $i: items_id_seq is $seq_value, behind the restored rows (largest id $max_id)"
    if [ "$phys" = "$logi" ]; then
        EQUAL_SEQ=$((EQUAL_SEQ + 1))
    else
        while read -r p l; do
            [ "${p%%=*}" = "${l%%=*}" ] || fail "target $i: sequences differ ($phys vs $logi)"
            pv=${p#*=}; lv=${l#*=}
            if [ "$pv" != unset ] && [ "$lv" != unset ] && [ "$lv" -lt "$pv" ]; then
                BEHIND_PHYSICAL=$((BEHIND_PHYSICAL + 1))
            fi
        done < <(paste -d' ' <(tr ',' '\n' <<<"$phys") <(tr ',' '\n' <<<"$logi"))
    fi
    log "target $i at $target: tables equal; sequences physical $phys, logical $logi"
done
ok "$TARGETS random targets: the logical restore equals the physical restore every time (sequences equal $EQUAL_SEQ times, never behind the restored rows; behind the physical value $BEHIND_PHYSICAL times)"
finish
