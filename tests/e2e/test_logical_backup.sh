#!/usr/bin/env bash
# A postgres-logical source (issue 14, first increment): a role with REPLICATION and SELECT but
# no superuser, as RDS grants it, backs up one database under a logical slot's exported snapshot;
# list shows the kind, verify passes, restore --to consistent --start loads it into a new
# instance whose ordered row hashes and sequence values equal the source's at the snapshot (rows
# written after the backup are absent), and a drill of the kind passes. The preflight refuses
# wal_level, a role without REPLICATION, a table without a primary key, an unlogged table and a
# large object, each with one line.
source "$(dirname "$0")/lib.sh" "$@"

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
# Nothing physical here: no WAL archiving into the repository.
echo "archive_mode = off" >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION; CREATE ROLE plain LOGIN
   ; CREATE ROLE app_owner NOLOGIN; CREATE ROLE reporting NOLOGIN CONNECTION LIMIT 3 PASSWORD 'secret'
   ; GRANT reporting TO plain"
q "CREATE DATABASE app"
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
APP_PLAIN="host=$T port=$SRC_PORT user=plain dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }

a "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)
   ; CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
       amount numeric(12,2), placed timestamptz DEFAULT now())
   ; CREATE INDEX orders_customer ON orders (customer_id)
   ; CREATE TABLE docs (id int PRIMARY KEY, body text)
   ; CREATE SEQUENCE ticket_seq
   ; INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 500) g
   ; INSERT INTO orders (customer_id, amount) SELECT 1 + g % 500, g * 1.25 FROM generate_series(1, 3000) g
   ; INSERT INTO docs SELECT g, (SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 3000) s) FROM generate_series(1, 20) g
   ; SELECT nextval('ticket_seq') FROM generate_series(1, 42)
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep, plain
   ; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO lbrep, plain
   ; ALTER TABLE docs OWNER TO app_owner; GRANT SELECT ON orders TO reporting" >/dev/null
[ "$(a "SELECT count(*) FROM pg_class WHERE reltoastrelid <> 0 AND relname = 'docs'")" = 1 ] || fail "docs has no TOAST table"
[ "$(a "SELECT min(length(body)) > 50000 FROM docs")" = t ] || fail "docs values are not large enough to be TOASTed"

# Preflight: each refusal is one line, exit 8, and nothing is recorded.
expect_exit 8 lb backup --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "wal_level is replica: .*wal_level = logical"
expect_exit 10 lb logical-setup --pg "$APP_REP"
expect_one_line_error
expect_in "$ERR" "not ready for logical backups: wal_level is replica"
expect_in "$OUT" "^missing .*CREATE PUBLICATION lifeboat FOR ALL TABLES"
stop_server "$SRC"
echo "wal_level = logical" >>"$SRC/postgresql.conf"
as_pg "$PGBIN/pg_ctl" -D "$SRC" -l "$SRC.log" -w -t 60 start >/dev/null || fail "source restart failed"

expect_exit 8 lb backup --repo "$REPO" --pg "$APP_PLAIN" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "role plain has no REPLICATION privilege"
a "CREATE TABLE loose (v int); GRANT SELECT ON loose TO lbrep" >/dev/null
expect_exit 8 lb backup --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "neither a primary key nor a replica identity.*public.loose"
a "DROP TABLE loose; CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY); GRANT SELECT ON scratch TO lbrep" >/dev/null
expect_exit 8 lb backup --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "unlogged table.*public.scratch"
a "DROP TABLE scratch" >/dev/null
LO=$(a "SELECT lo_create(0)")
expect_exit 8 lb backup --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "1 large object"
a "SELECT lo_unlink($LO); CREATE TABLE hidden (id int PRIMARY KEY)" >/dev/null
expect_exit 8 lb backup --repo "$REPO" --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
expect_in "$ERR" "role lbrep cannot read 1 table\(s\): public.hidden"
a "GRANT SELECT ON hidden TO lbrep" >/dev/null
# A backup that fails after creating its slot drops it again.
expect_exit 11 as_pg env LIFEBOAT_TEST_STAGE_HOOK=backup:files:fail "$LB" backup --repo "$REPO" \
    --pg "$APP_REP" --source-kind postgres-logical
expect_one_line_error
[ "$(a "SELECT count(*) FROM pg_replication_slots")" = 0 ] || fail "a failed backup left its slot"
[ "$(lb list --repo "$REPO" --json | jq '.backups | length')" = 0 ] || fail "a refused backup was recorded"
ok "preflight refusals"

# logical-setup: the replication role may not create the publication; the admin role applies it.
expect_exit 10 lb logical-setup --pg "$APP_REP" --json
[ "$(jq -r '.problems | length' "$OUT")" = 0 ] || fail "logical-setup found problems on a ready source"
expect_exit 8 lb logical-setup --pg "$APP_REP" --apply
expect_one_line_error
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply
expect_in "$OUT" "^applied: CREATE PUBLICATION"
expect_exit 0 lb logical-setup --pg "$APP_REP"
expect_in "$OUT" "ready for logical backups"
ok "logical-setup"

# What the restore must reproduce: the state at the backup's snapshot.
state() {
    psql_on "$1" "SELECT (SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers c),
        (SELECT md5(string_agg(o::text, '|' ORDER BY id)) FROM orders o),
        (SELECT md5(string_agg(d::text, '|' ORDER BY id)) FROM docs d),
        (SELECT last_value || '/' || is_called FROM ticket_seq),
        (SELECT last_value || '/' || is_called FROM orders_id_seq),
        (SELECT last_value || '/' || is_called FROM customers_id_seq)"
}
BEFORE=$(state "$APP_ADMIN")
CONNINFO=$APP_REP backup_json --source-kind postgres-logical
[ "$(jq -r .source_kind "$OUT")" = postgres-logical ] || fail "backup output does not name the kind"
# Written after the backup: must not be in the restore.
a "INSERT INTO customers (name) VALUES ('after the backup'); UPDATE docs SET body = 'changed' WHERE id = 1;
   SELECT nextval('ticket_seq')" >/dev/null
[ "$(state "$APP_ADMIN")" != "$BEFORE" ] || fail "the writes after the backup changed nothing"
SLOT=$(a "SELECT slot_name || ' ' || slot_type || ' ' || plugin FROM pg_replication_slots")
expect_in <(echo "$SLOT") "^lifeboat_[0-9a-f]{16} logical pgoutput$" "the backup's slot"

expect_exit 0 lb list --repo "$REPO" --json
[ "$(jq -r '.backups[0].source_kind' "$OUT")" = postgres-logical ] || fail "list --json does not show the kind"
expect_exit 0 lb verify --repo "$REPO"
ok "backup, list, verify"

# Until the change stream exists, a time is outside the window (the backup alone is restorable).
expect_exit 9 lb restore --repo "$REPO" --to "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --target-dir "$T/attime" --start
expect_one_line_error
log "a time target: $(cat "$ERR")"

# Restoring needs a server to load into.
expect_exit 2 lb restore --repo "$REPO" --to consistent --target-dir "$T/nostart"
expect_one_line_error
expect_in "$ERR" "add --start"
[ ! -e "$T/nostart" ] || [ -z "$(ls -A "$T/nostart")" ] || fail "a refused restore left files"

PORT=$(free_port)
DATA_DIRS+=("$T/restored/pgdata")
restore_into "$T/restored" --to consistent --port "$PORT" --start
[ -n "$RESTORED_CONN" ] || fail "restore printed no conninfo"
AFTER=$(state "$RESTORED_CONN")
expect_eq "$AFTER" "$BEFORE" "row hashes and sequences of the restore"
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM customers WHERE name = 'after the backup'")" = 0 ] ||
    fail "a row written after the backup is in the restore"
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")" = 1 ] ||
    fail "the foreign key was not restored"
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_customer'")" = 1 ] ||
    fail "the index was not restored"
# Roles without passwords, memberships, owners and grants.
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT format('%s:%s:%s:%s', rolname, CASE WHEN rolcanlogin THEN 't' ELSE 'f' END, rolconnlimit, CASE WHEN rolpassword IS NULL THEN 't' ELSE 'f' END) FROM pg_authid WHERE rolname IN ('app_owner', 'reporting', 'lbrep') ORDER BY 1")" \
    "$(printf 'app_owner:f:-1:t\nlbrep:t:-1:t\nreporting:f:3:t')" "roles restored, without passwords"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT pg_has_role('plain', 'reporting', 'member')")" t "membership restored"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT tableowner FROM pg_tables WHERE tablename = 'docs'")" app_owner "owner restored"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT has_table_privilege('reporting', 'orders', 'SELECT') AND NOT has_table_privilege('reporting', 'customers', 'SELECT')")" t "grants restored"
[ ! -e "$T/restored/data" ] && [ ! -e "$T/restored/schema" ] || fail "the dump files were left behind"
ok "restore to the snapshot: $(jq -r '"\(.phases.replay_seconds) s load, \(.phases.ready_seconds) s ready"' "$OUT")"
as_pg "$PGBIN/pg_ctl" -D "$T/restored/pgdata" -m fast -w stop >/dev/null

expect_exit 0 lb drill --repo "$REPO" --to consistent
expect_in "$OUT" "PASSED|passed" "the drill passed"
ok "drill --to consistent"

# A second backup (the slot is created afresh), copy to another repository, expire.
a "INSERT INTO customers (name) VALUES ('second backup')" >/dev/null
FIRST=$BACKUP_ID
CONNINFO=$APP_REP backup_json --source-kind postgres-logical
[ "$(a "SELECT count(*) FROM pg_replication_slots")" = 1 ] || fail "the second backup left two slots"
lb repo-init --repo "$T/copy" >/dev/null
expect_exit 0 lb copy --from "$REPO" --to "$T/copy" --all
expect_exit 0 lb verify --repo "$T/copy"
expect_exit 0 lb list --repo "$T/copy" --json
[ "$(jq '[.backups[] | select(.source_kind == "postgres-logical")] | length' "$OUT")" = 2 ] ||
    fail "the copy does not hold both logical backups"
expect_exit 0 lb expire --repo "$REPO" --retention-window 0 --keep-min 1
expect_exit 0 lb list --repo "$REPO" --json
[ "$(jq -r '[.backups[].id] | join(" ")' "$OUT")" = "$BACKUP_ID" ] || fail "expire did not keep just the newest ($FIRST expired)"
expect_exit 0 lb verify --repo "$REPO"
ok "second backup, copy, expire"

# 'latest' is the newest backup's snapshot while there is no change stream.
PORT=$(free_port)
DATA_DIRS+=("$T/latest/pgdata")
restore_into "$T/latest" --to latest --port "$PORT" --start
[ "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM customers WHERE name = 'second backup'")" = 1 ] ||
    fail "restore --to latest is not the newest backup"
as_pg "$PGBIN/pg_ctl" -D "$T/latest/pgdata" -m fast -w stop >/dev/null
ok "restore --to latest"
finish
