#!/usr/bin/env bash
# Issue acceptance on object storage: backups into an S3 bucket (s3rver on loopback), every WAL
# file and an automatic copy of every backup into a second bucket; the primary bucket removed;
# point-in-time restore from the copy alone is exact.
SOURCE_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh" "$@"

S3RVER="$SOURCE_DIR/tests/s3/node_modules/s3rver/bin/s3rver.js"
[ -f "$S3RVER" ] || fail "s3rver is not installed (scripts/install-deps.sh runs npm ci in tests/s3)"
S3_PORT=$(free_port)
mkdir -p "$T/s3"
node --openssl-legacy-provider "$S3RVER" --directory "$T/s3" --port "$S3_PORT" --address 127.0.0.1 \
    --silent --configure-bucket primary --configure-bucket west >"$T/s3rver.log" 2>&1 &
S3_PID=$!
trap 'kill $S3_PID 2>/dev/null; cleanup' EXIT
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
ENDPOINT="http://127.0.0.1:$S3_PORT"
PRIMARY="s3://primary/lifeboat?endpoint=$ENDPOINT&style=path"
WEST="s3://west/lifeboat?endpoint=$ENDPOINT&style=path"
for _ in $(seq 100); do curl -s -o /dev/null "$ENDPOINT/" && break; sleep 0.1; done

CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOC
[repositories.primary]
path = "$PRIMARY"
archive = true

[repositories.west]
path = "$WEST"
archive = true
copy_after_backup = true
EOC
chmod 644 "$CONF"
expect_exit 0 lb repo-init --config "$CONF" --repo primary
expect_exit 0 lb repo-init --config "$CONF" --repo west
init_source
sed -i "s|archive_command = .*|archive_command = 'AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER ''$T/bin/lifeboat'' wal-push %p --config ''$CONF'''|" "$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN

q "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO ticks (id) SELECT g FROM generate_series(1, 100) g"
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
BACKUP_ID=$(jq -r .id "$OUT")
expect_exit 0 lb list --config "$CONF" --repo west --json
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$BACKUP_ID" "backup copied to the west bucket"

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

# Region failure: the primary bucket is gone.
rm -rf "$T/s3/primary"
expect_failure lb list --repo "$PRIMARY"
REPO=$WEST
expect_exit 0 lb list --repo "$WEST" --json
LATEST=$(jq -r .window.latest "$OUT")
[[ "$TARGET" < "$LATEST" ]] || fail "the copy's window ($LATEST) does not reach $TARGET"
PORT=$(free_port)
restore_into "$T/r" --to "$TARGET" --start --port "$PORT"
WANT=$(q "SELECT count(*) FROM ticks WHERE at <= '$TARGET'")
expect_eq "$WANT" 120 "rows committed at the target"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM ticks")" "$WANT" "rows restored from the copy"
expect_exit 0 lb verify --repo "$WEST"
finish
