#!/usr/bin/env bash
# Cross-region copies: a second repository receives every WAL file (archive = true) and a copy of
# every backup (copy_after_backup = true). With the primary repository deleted, list and a
# point-in-time restore work from the copy alone, and exactly. `copy` is resumable: a second run
# transfers nothing.
source "$(dirname "$0")/lib.sh" "$@"

WEST="$T/west"
CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOC
[repositories.primary]
path = "$REPO"
archive = true

[repositories.west]
path = "$WEST"
archive = true
copy_after_backup = true
EOC
chown postgres: "$CONF" 2>/dev/null || true
lb repo-init --repo "$REPO" >/dev/null || fail "repo-init primary"
lb repo-init --repo "$WEST" >/dev/null || fail "repo-init west"
init_source
# Archive through the configuration: into primary and west.
sed -i "s|wal-push %p --repo ''$REPO''|wal-push %p --config ''$CONF''|" "$SRC/postgresql.conf"
grep -q -- "--config" "$SRC/postgresql.conf" || fail "archive_command not rewritten"
start_server "$SRC"
CONNINFO=$SRC_CONN

q "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO ticks (id) SELECT g FROM generate_series(1, 100) g"
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
BACKUP_ID=$(jq -r .id "$OUT")
expect_exit 0 lb list --config "$CONF" --repo west --json
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$BACKUP_ID" "backup copied to west after the backup"

for i in $(seq 101 120); do q "INSERT INTO ticks (id) VALUES ($i)"; done
# The target: a server time read after row 120's commit returned (so later than its commit
# timestamp); the next commit comes at least a second after it, by the server's clock. No commit
# lies near the target, however loaded the machine.
TARGET=$(q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
until [ "$(q "SELECT clock_timestamp() >= '$TARGET'::timestamptz + interval '1 second'")" = t ]; do
    sleep 0.1
done
for i in $(seq 121 140); do q "INSERT INTO ticks (id) VALUES ($i)"; done
switch_wal_and_wait

# Resumable and idempotent: everything is already there.
expect_exit 0 lb copy --config "$CONF" --from primary --to west --json
expect_eq "$(jq -r .blocks_copied "$OUT")" 0 "blocks copied by a repeated copy"
expect_eq "$(jq -r .wal_copied "$OUT")" 0 "WAL files copied by a repeated copy"

# Region failure: the primary repository is gone.
rm -rf "$REPO"
REPO=$WEST  # everything from here on uses the copy
expect_exit 0 lb list --repo "$WEST" --json
LATEST=$(jq -r .window.latest "$OUT")
[[ "$TARGET" < "$LATEST" ]] || fail "west's window ($LATEST) does not reach $TARGET"
PORT=$(free_port)
restore_into "$T/r" --to "$TARGET" --start --port "$PORT"
WANT=$(q "SELECT count(*) FROM ticks WHERE at <= '$TARGET'")
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM ticks")" "$WANT" "rows restored from west"
expect_eq "$WANT" 120 "rows committed at the target"
expect_exit 0 lb verify --repo "$WEST"
# The region-failure drill scenario: a drill from the copy alone.
expect_exit 0 lb drill --repo "$WEST" --to "$TARGET" --json
expect_eq "$(jq -r .passed "$OUT")" true "drill from the copy"

# A copy into a new repository moves the blocks; a second run moves nothing.
lb repo-init --repo "$T/third" >/dev/null || fail "repo-init third"
expect_exit 0 lb copy --from "$WEST" --to "$T/third" --json
[ "$(jq -r .blocks_copied "$OUT")" -gt 0 ] || fail "nothing copied to a new repository"
expect_exit 0 lb copy --from "$WEST" --to "$T/third" --json
expect_eq "$(jq -r .blocks_copied "$OUT")" 0 "blocks copied by the second run"
expect_eq "$(jq -r '.present_backups | length' "$OUT")" 1 "backups already present"
expect_exit 0 lb verify --repo "$T/third"
finish
