#!/usr/bin/env bash
# The repository operations on a postgres-logical source with a change log (issue 14, item 5):
# two base backups, each followed by a capture and writes; verify passes and names a damaged
# change-log object; copy --all to a second repository restores to a time exactly as the
# original does; drill to a time after the first base passes with counts, foreign keys and a
# user check file; copy --backup of the first backup carries its change log only; report shows the source kind; expire with a retention that drops the first
# backup removes the change-log objects only it needed (none the kept backup or continuous
# recovery needs), and the window then starts at the kept backup.
source "$(dirname "$0")/lib.sh" "$@"

COPY_REPO="$T/copy-repo"
lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
lb repo-init --repo "$COPY_REPO" >/dev/null || fail "repo-init of the copy failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }
a "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)
   ; CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), amount int)
   ; INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g
   ; INSERT INTO orders SELECT g, 1 + g % 100, g FROM generate_series(1, 500) g
   ; CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY 1
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep
   ; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO lbrep" >/dev/null
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply

now_utc() { a "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
SLOT=""
slot_active() { a "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
start_capture() {
    SLOT=$(a "SELECT slot_name FROM pg_replication_slots")
    rm -f "$T/capture.pid"
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$REPO" \
        --pg "$APP_REP" --source-kind postgres-logical --json >"$T/capture.out" 2>"$T/capture.err" &
    BG_PIDS+=($!)
    for _ in $(seq 1 300); do
        [ -s "$T/capture.pid" ] && [ "$(slot_active)" = t ] && break
        sleep 0.1
    done
    [ "$(slot_active)" = t ] || { cat "$T/capture.err" >&2; fail "capture did not start streaming"; }
    CAPTURE_PID=$(cat "$T/capture.pid")
}
# stop_capture: waits until every commit so far is stored (the slot is confirmed only for what
# is stored), then SIGTERM, and waits for the slot to be released.
stop_capture() {
    local upto stored=f
    upto=$(a "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 300); do
        stored=$(a "SELECT confirmed_flush_lsn >= '$upto' FROM pg_replication_slots WHERE slot_name = '$SLOT'")
        [ "$stored" = t ] && break
        sleep 0.1
    done
    [ "$stored" = t ] || fail "the change log did not reach $upto"
    kill -TERM "$CAPTURE_PID"
    for _ in $(seq 1 300); do kill -0 "$CAPTURE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$CAPTURE_PID" 2>/dev/null && fail "capture did not stop on SIGTERM"
    for _ in $(seq 1 300); do [ "$(slot_active)" = f ] && break; sleep 0.1; done
}
log_objects() { as_pg find "$1/wal/logical" -type f -printf '%f\n' 2>/dev/null | sort; }

# The first base backup, its change log, and a target time between two rounds of writes.
CONNINFO=$APP_REP backup_json --source-kind postgres-logical
B1=$BACKUP_ID
start_capture
a "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(101, 150) g
   ; INSERT INTO orders SELECT g, 101 + g % 50, g FROM generate_series(501, 700) g" >/dev/null
a "UPDATE orders SET amount = amount * 2 WHERE id % 3 = 0" >/dev/null
a "DELETE FROM orders WHERE id % 10 = 0" >/dev/null
a "REFRESH MATERIALIZED VIEW order_totals" >/dev/null
TARGET=$(now_utc)
EXPECT_ORDERS=$(a "SELECT count(*) FROM orders")
a "INSERT INTO customers SELECT g, 'late' || g FROM generate_series(151, 160) g
   ; INSERT INTO orders SELECT g, 151 + g % 10, g FROM generate_series(701, 750) g" >/dev/null
stop_capture
FIRST_OBJECTS=$(log_objects "$REPO")
[ -n "$FIRST_OBJECTS" ] || fail "the first capture stored no change-log object"

# The second base backup and its change log.
CONNINFO=$APP_REP backup_json --source-kind postgres-logical
B2=$BACKUP_ID
start_capture
a "INSERT INTO customers SELECT g, 'second' || g FROM generate_series(161, 170) g" >/dev/null
a "UPDATE customers SET name = name || '+' WHERE id % 4 = 0" >/dev/null
stop_capture
SECOND_OBJECTS=$(comm -13 <(echo "$FIRST_OBJECTS") <(log_objects "$REPO"))
[ -n "$SECOND_OBJECTS" ] || fail "the second capture stored no change-log object"

expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 2 "backups listed"
[ "$(jq -r '.window.gap' "$OUT")" = false ] || [ "$(jq -r '.window.gap' "$OUT")" = null ] ||
    fail "list shows a gap: $(jq -c .window "$OUT")"
log "window: $(jq -c '.window' "$OUT"); objects of $B1: $(echo $FIRST_OBJECTS); of $B2: $(echo $SECOND_OBJECTS)"
expect_exit 0 lb verify --repo "$REPO"
ok "two logical backups with change logs: list, verify"

tables_state() {
    local conn=$1 t
    for t in customers orders order_totals; do
        psql_on "$conn" "SELECT '$t ' || count(*) || ' ' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), 'empty') FROM public.$t r"
    done
}
# restore_state REPO LABEL TIME: restores and writes $T/LABEL.state
restore_state() {
    local repo=$1 label=$2 target=$3 dir port conn
    dir="$T/$label"
    port=$(free_port)
    DATA_DIRS+=("$dir" "$dir/pgdata")
    expect_exit 0 lb restore --repo "$repo" --to "$target" --target-dir "$dir" --port "$port" --start --json
    conn="$(jq -r .conninfo "$OUT") dbname=app"
    tables_state "$conn" >"$T/$label.state"
    stop_server "$dir/pgdata"
    as_pg rm -rf "$dir"
}

# A damaged change-log object: verify fails and names it; put back, verify passes again.
VICTIM=$(echo "$FIRST_OBJECTS" | head -n 1)
as_pg cp "$REPO/wal/logical/$VICTIM" "$T/victim.orig"
as_pg python3 - "$REPO/wal/logical/$VICTIM" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0xFF
open(p, 'wb').write(bytes(b))
PY
expect_failure lb verify --repo "$REPO"
grep -q "$VICTIM" "$OUT" "$ERR" || { cat "$OUT" "$ERR" >&2; fail "verify does not name the damaged object $VICTIM"; }
log "verify of a damaged object: exit $RC"
as_pg cp "$T/victim.orig" "$REPO/wal/logical/$VICTIM"
expect_exit 0 lb verify --repo "$REPO"
ok "verify names the damaged change-log object $VICTIM (exit $RC)"

# Copy: a restore from the copy equals the restore from the original.
expect_exit 0 lb copy --from "$REPO" --to "$COPY_REPO" --all
expect_exit 0 lb verify --repo "$COPY_REPO"
restore_state "$REPO" original "$TARGET"
restore_state "$COPY_REPO" copied "$TARGET"
cmp -s "$T/original.state" "$T/copied.state" || { diff "$T/original.state" "$T/copied.state" >&2; fail "the restore from the copy differs"; }
EXPECT_TOTALS=$(a "SELECT count(*) || ' ' || md5(string_agg(r::text, '|' ORDER BY r::text)) FROM order_totals r")
grep -q "^order_totals $EXPECT_TOTALS\$" "$T/original.state" ||
    defer_fail "the materialized view's contents at $TARGET differ: $(grep order_totals "$T/original.state") vs $EXPECT_TOTALS at the source"
grep -q "^orders $EXPECT_ORDERS " "$T/original.state" || { cat "$T/original.state" >&2; fail "the restore to $TARGET does not hold $EXPECT_ORDERS orders"; }
ok "copy --all: the restore to $TARGET from the copy equals the original's ($(tr '\n' ' ' <"$T/original.state"))"

# Copy of the first backup alone: it carries the change log its window needs, no more.
ONE_REPO="$T/one-repo"
lb repo-init --repo "$ONE_REPO" >/dev/null || fail "repo-init of the third repository failed"
expect_exit 0 lb copy --from "$REPO" --to "$ONE_REPO" --backup "$B1"
[ "$(log_objects "$ONE_REPO")" = "$FIRST_OBJECTS" ] ||
    fail "copy --backup $B1 carried $(log_objects "$ONE_REPO" | tr '\n' ' ') instead of $(echo $FIRST_OBJECTS)"
restore_state "$ONE_REPO" one "$TARGET"
cmp -s "$T/original.state" "$T/one.state" || { diff "$T/original.state" "$T/one.state" >&2; fail "the restore from the one-backup copy differs"; }
ok "copy --backup $B1 carries its change log only; the restore to $TARGET from it equals the original's"

# Drill to the time after the first base: counts, foreign keys, user checks.
cat >"$T/checks.toml" <<EOC
[[check]]
name = "orders at the target"
sql = "SELECT count(*) FROM orders"
expect = "= $EXPECT_ORDERS"

[[check]]
name = "no late customer"
sql = "SELECT count(*) FROM customers WHERE name LIKE 'late%'"
expect = "= 0"
EOC
chmod 644 "$T/checks.toml"
expect_exit 0 lb drill --repo "$REPO" --to "$TARGET" --checks "$T/checks.toml" --database app --json
cp "$OUT" "$T/drill.json"
expect_eq "$(jq -r .passed "$OUT")" true "logical drill passed"
log "drill checks: $(jq -c '[.checks[] | {kind, name, passed}]' "$OUT")"
[ "$(jq -r '[.checks[] | select(.passed | not)] | length' "$OUT")" = 0 ] || fail "a drill check failed"
jq -r '.checks[].kind' "$OUT" | grep -qi "foreign" || defer_fail "the drill ran no foreign-key check: $(jq -c '[.checks[].kind] | unique' "$OUT")"
jq -r '.checks[].kind' "$OUT" | grep -qi "count" || defer_fail "the drill ran no count check: $(jq -c '[.checks[].kind] | unique' "$OUT")"
ok "drill --to $TARGET of the logical kind passed"

expect_exit 0 lb report --repo "$REPO" --format json
expect_eq "$(jq -r ".repositories[0].source.kind" "$OUT")" postgres-logical "the source kind in the report"
expect_exit 0 lb report --repo "$REPO"
expect_in "$OUT" "^\\| source \\| postgres-logical "
ok "report shows the postgres-logical source"

# Expire: the retention drops the first backup and the change log only it needed.
expect_exit 0 lb expire --repo "$REPO" --retention-window 1s --keep-min 1 --json
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '[.backups[].id] | join(",")' "$OUT")" "$B2" "backups after expire"
AFTER=$(log_objects "$REPO")
[ -z "$(comm -12 <(echo "$FIRST_OBJECTS") <(echo "$AFTER"))" ] ||
    fail "expire kept change-log objects only $B1 needed: $(comm -12 <(echo "$FIRST_OBJECTS") <(echo "$AFTER") | tr '\n' ' ')"
[ "$(echo "$SECOND_OBJECTS")" = "$(echo "$AFTER")" ] ||
    fail "expire removed change-log objects $B2 needs: $(comm -23 <(echo "$SECOND_OBJECTS") <(echo "$AFTER") | tr '\n' ' ')"
EARLIEST=$(jq -r .window.earliest "$OUT")
B2_TIME=$(jq -r '.backups[0].stop_time // .backups[0].time // empty' "$OUT")
log "window after expire: $(jq -c '.window | {earliest, latest}' "$OUT") (backup $B2 at $B2_TIME)"
[[ "$EARLIEST" > "$TARGET" ]] || fail "the window still starts at $EARLIEST, before the first backup's dropped time $TARGET"
expect_exit 9 lb restore --repo "$REPO" --to "$TARGET" --target-dir "$T/too-early" --port "$(free_port)" --start
expect_one_line_error
expect_exit 0 lb verify --repo "$REPO"
restore_state "$REPO" after-expire latest
grep -q "^customers 170 " "$T/after-expire.state" || { cat "$T/after-expire.state" >&2; fail "restore to latest after expire"; }
ok "expire removed the first capture's objects only; the window starts at $EARLIEST"
finish
