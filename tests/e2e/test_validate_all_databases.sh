#!/usr/bin/env bash
# Validation covers every database (issue 9, item 4): an orphaned foreign key in an application
# database `app` fails `validate` and a drill, naming the database, the table and the constraint;
# without it both pass and say what they checked in `postgres` and in `app`; --database narrows.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE DATABASE app"
APP_CONN="${CONNINFO/dbname=postgres/dbname=app}"
psql_on "$APP_CONN" "CREATE TABLE customers (id int PRIMARY KEY)"
psql_on "$APP_CONN" "CREATE TABLE orders (id int PRIMARY KEY, customer_id int CONSTRAINT orders_customer_fk REFERENCES customers)"
psql_on "$APP_CONN" "INSERT INTO customers SELECT g FROM generate_series(1, 10) g"
psql_on "$APP_CONN" "INSERT INTO orders SELECT g, g % 10 + 1 FROM generate_series(1, 50) g"
q "CREATE TABLE notes (id int PRIMARY KEY)"
backup_json
switch_wal_and_wait

# Clean: both databases are checked and named.
expect_exit 0 lb validate --pg "$CONNINFO" --json
expect_eq "$(jq -r '[.databases[].name] | sort | join(" ")' "$OUT")" "app postgres" "databases validated"
expect_eq "$(jq -r '.databases[] | select(.name == "app") | .checks.foreign_key.passed' "$OUT")" 1 \
    "foreign keys checked in app"
expect_eq "$(jq -r '[.tables[] | select(.database == "app")] | length' "$OUT")" 2 "app's tables counted"
expect_exit 0 lb validate --pg "$CONNINFO"
expect_in "$OUT" "^database app: passed: 2 tables counted; passed .*foreign_key 1"
expect_in "$OUT" "^database postgres: passed: 1 tables counted"
expect_exit 0 lb drill --repo "$REPO" --latest --json
expect_eq "$(jq -r .passed "$OUT")" true "drill of a clean instance"
expect_eq "$(jq -r '[.databases[].name] | sort | join(" ")' "$OUT")" "app postgres" "databases the drill validated"

# An orphan in app, written past the foreign key as a superuser can.
psql_on "$APP_CONN" "SET session_replication_role = replica; INSERT INTO orders VALUES (999, 12345)"
expect_exit 10 lb validate --pg "$CONNINFO"
expect_one_line_error
expect_in "$OUT" "^FAILED  foreign_key app:public.orders.orders_customer_fk: constraint orders_customer_fk: 1 row\(s\) of public.orders \(customer_id\) have no match in public.customers"
expect_in "$OUT" "^database app: FAILED: .*failed foreign_key 1"
expect_in "$OUT" "^database postgres: passed"
expect_exit 10 lb validate --pg "$CONNINFO" --json
expect_eq "$(jq -r '.databases[] | select(.name == "app") | .passed' "$OUT")" false "app failed (json)"
expect_eq "$(jq -r '[.checks[] | select(.passed == false) | "\(.database) \(.name)"] | join(",")' "$OUT")" \
    "app app:public.orders.orders_customer_fk" "the failed check (json)"
# --database narrows (repeatable); a database that is not there fails rather than passing.
expect_exit 0 lb validate --pg "$APP_CONN" --database postgres --json
expect_eq "$(jq -r '[.databases[].name] | join(" ")' "$OUT")" postgres "narrowed to postgres"
expect_exit 10 lb validate --pg "$CONNINFO" --database postgres --database nosuchdb
expect_in "$OUT" "^FAILED  connect nosuchdb: no such database"

# A drill of a backup holding the orphan fails and names it.
backup_json
switch_wal_and_wait
expect_exit 10 lb drill --repo "$REPO" --latest --json
expect_eq "$(jq -r .passed "$OUT")" false "drill with an orphan in app"
expect_eq "$(jq -r '[.checks[] | select(.passed == false) | .name] | join(",")' "$OUT")" \
    "app:public.orders.orders_customer_fk" "the drill's failed check"
expect_exit 10 lb drill --repo "$REPO" --latest
expect_one_line_error
expect_in "$OUT" "FAILED foreign_key app:public.orders.orders_customer_fk: constraint orders_customer_fk"
expect_in "$OUT" "database app: FAILED"
expect_exit 0 lb drill --repo "$REPO" --latest --database postgres
finish
