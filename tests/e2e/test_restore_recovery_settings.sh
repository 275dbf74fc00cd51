#!/usr/bin/env bash
# Old recovery settings ride along (issue 9, item 2). An instance that was itself restored
# carries that restore's recovery_target_time, restore_command and timeline in
# postgresql.auto.conf, so its backups do too. A later restore of such a backup must own every
# recovery setting: `--to latest` reaches every archived row, `--to consistent` works (PostgreSQL
# refused it with "multiple recovery targets specified"), and a recovery target set in
# postgresql.conf is overridden as well.
source "$(dirname "$0")/lib.sh" "$@"

now_utc() { q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
count_on() { psql_on "$1" "SELECT count(*) FROM rows WHERE batch = '$2'"; }

start_source
q "CREATE TABLE rows (id serial PRIMARY KEY, batch text NOT NULL)"
backup_json
q "INSERT INTO rows (batch) SELECT 'a1' FROM generate_series(1, 50)"
sleep 1
TARGET=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'a2' FROM generate_series(1, 50)"
switch_wal_and_wait
ok "a1, target $TARGET, a2 archived"

# ---- an instance restored to a point in time, archiving on (into the same repository)
restore_into "$T/first" --to "$TARGET" --start --archive
FIRST_CONN=$RESTORED_CONN
expect_eq "$(count_on "$FIRST_CONN" a1)/$(count_on "$FIRST_CONN" a2)" "50/0" "first restore (a1/a2)"
grep -E -q "^recovery_target_time = '" "$T/first/postgresql.auto.conf" ||
    fail "the first restore wrote no recovery_target_time (the premise of this test)"
ok "first restore to $TARGET carries recovery_target_time in postgresql.auto.conf"

# ---- a backup of that instance, then more rows on it
CONNINFO=$FIRST_CONN backup_json
SECOND_BACKUP=$BACKUP_ID
psql_on "$FIRST_CONN" "INSERT INTO rows (batch) SELECT 'c' FROM generate_series(1, 70)"
switch_wal_and_wait "$FIRST_CONN"
ok "backup $SECOND_BACKUP of the restored instance, 70 rows 'c' after it, archived"

# ---- restore --to latest reaches every row
restore_into "$T/latest" --to latest --backup "$SECOND_BACKUP" --start
GOT="$(count_on "$RESTORED_CONN" a1)/$(count_on "$RESTORED_CONN" c)"
if [ "$GOT" != "50/70" ]; then
    defer_fail "restore --to latest of $SECOND_BACKUP gave a1/c = $GOT, expected 50/70 (stopped at the old target?)"
else
    ok "restore --to latest reaches all rows (a1/c = $GOT)"
fi
jq -e '.replaced_settings | index("recovery_target_time")' "$OUT" >/dev/null ||
    defer_fail "restore --json does not name the recovery settings it replaced"
grep -q "note: .*recovery_target_time" "$ERR" ||
    defer_fail "restore does not say on stderr which recovery settings it replaced"
grep -E -q "^# .*recovery_target_time = '" "$T/latest/postgresql.auto.conf" ||
    defer_fail "the old recovery_target_time is not visibly commented out in postgresql.auto.conf"
[ "$(grep -E -c "^recovery_target_time = '[^']" "$T/latest/postgresql.auto.conf")" = 0 ] ||
    defer_fail "a recovery_target_time is still in force after restore --to latest"
as_pg "$PGBIN/pg_ctl" -D "$T/latest" -m fast -w stop >/dev/null || true

# ---- restore --to consistent works (no "multiple recovery targets specified")
DATA_DIRS+=("$T/consistent")
RC=0
lb restore --repo "$REPO" --target-dir "$T/consistent" --backup "$SECOND_BACKUP" --to consistent --start --json >"$OUT" 2>"$ERR" || RC=$?
if [ "$RC" != 0 ]; then
    defer_fail "restore --to consistent of $SECOND_BACKUP failed (status $RC): $(tail -n 1 "$ERR")"
else
    CONS_CONN=$(jq -r .conninfo "$OUT")
    expect_eq "$(count_on "$CONS_CONN" a1)/$(count_on "$CONS_CONN" c)" "50/0" "restore --to consistent (a1/c)"
    as_pg "$PGBIN/pg_ctl" -D "$T/consistent" -m fast -w stop >/dev/null || true
    ok "restore --to consistent works"
fi

# ---- a recovery target in postgresql.conf (not only auto.conf) is overridden too
echo "recovery_target_name = 'never-created'" | as_pg tee -a "$T/first/postgresql.conf" >/dev/null
CONNINFO=$FIRST_CONN backup_json
THIRD_BACKUP=$BACKUP_ID
psql_on "$FIRST_CONN" "INSERT INTO rows (batch) SELECT 'd' FROM generate_series(1, 30)"
switch_wal_and_wait "$FIRST_CONN"
restore_into "$T/latest-again" --to latest --backup "$THIRD_BACKUP" --start
expect_eq "$(count_on "$RESTORED_CONN" c)/$(count_on "$RESTORED_CONN" d)" "70/30" \
    "restore --to latest of a backup whose postgresql.conf names a recovery target"
ok "a recovery_target_name in postgresql.conf does not stop the restore"

finish
