#!/usr/bin/env bash
# The S3 flows against a real S3 server, Ceph's RADOS Gateway (scripts/rgw.sh), which checks
# signatures and enforces If-None-Match: * (s3rver does neither): an encrypted repository in one
# bucket with conditional_writes=verified takes backups and every WAL file, copies each backup
# into a plaintext repository in a second bucket; point-in-time restore from either is exact;
# expire collects the first backup and verify still passes. Two lifeboat processes racing for
# the exclusive lock: exactly one wins, every round. A multipart upload abandoned in the bucket
# is invisible, left alone while young, and aborted by expire once older than a day. A wrong
# secret is refused by the server (exit 5, one line).
source "$(dirname "$0")/lib.sh" "$@"

LIFEBOAT_S3_SERVER=rgw start_s3 primary west
log "RGW at $S3_ENDPOINT"
PRIMARY="s3://primary/lifeboat?endpoint=$S3_ENDPOINT&style=path&conditional_writes=verified"
WEST="s3://west/lifeboat?endpoint=$S3_ENDPOINT&style=path&conditional_writes=verified"

KEY="$T/key"
(umask 077 && head -c 32 /dev/urandom >"$KEY")
chown "$PG_USER": "$KEY" 2>/dev/null || true
CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOC
[repositories.primary]
path = "$PRIMARY"
key_file = "$KEY"
archive = true

[repositories.west]
path = "$WEST"
archive = true
copy_after_backup = true
EOC
chmod 644 "$CONF"
expect_exit 0 lb repo-init --repo "$PRIMARY" --encrypt --key-file "$KEY"
expect_exit 0 lb repo-init --repo "$WEST"
init_source
CREDENTIALS="AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
sed -i "s|archive_command = .*|archive_command = '$CREDENTIALS ''$LB'' wal-push %p --config ''$CONF'''|" "$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN

# --- Backup, WAL, copy, point-in-time restore ---------------------------------------------------
q "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q "INSERT INTO ticks (id) SELECT g FROM generate_series(1, 100) g"
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
FIRST=$(jq -r .id "$OUT")
expect_exit 0 lb list --config "$CONF" --repo west --json
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$FIRST" "backup copied to the west bucket"

for i in $(seq 101 120); do q "INSERT INTO ticks (id) VALUES ($i)"; done
# The target: a server time read after row 120's commit returned; the next commit comes at least
# a second after it, by the server's clock.
TARGET=$(q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
until [ "$(q "SELECT clock_timestamp() >= '$TARGET'::timestamptz + interval '1 second'")" = t ]; do
    sleep 0.1
done
for i in $(seq 121 140); do q "INSERT INTO ticks (id) VALUES ($i)"; done
switch_wal_and_wait
WANT=$(q "SELECT count(*) FROM ticks WHERE at <= '$TARGET'")
expect_eq "$WANT" 120 "rows committed at the target"

REPO=$PRIMARY
restore_into "$T/r1" --config "$CONF" --key-file "$KEY" --to "$TARGET" --start --port "$(free_port)"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM ticks")" "$WANT" "rows restored from RGW (encrypted)"
stop_server "$T/r1"
REPO=$WEST
restore_into "$T/r2" --config "$CONF" --to "$TARGET" --start --port "$(free_port)"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM ticks")" "$WANT" "rows restored from the copy"
stop_server "$T/r2"
ok "point-in-time restores from both buckets are exact"

# --- Expire ---------------------------------------------------------------------------------------
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
SECOND=$(jq -r .id "$OUT")
expect_exit 0 lb expire --config "$CONF" --repo primary --retention-window 0 --keep-min 1 --json
expect_exit 0 lb list --config "$CONF" --repo primary --json
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$OUT")" "$SECOND" "expire kept only the newest backup"
expect_exit 0 lb verify --config "$CONF" --repo primary
ok "expire on RGW collected $FIRST; verify passes"

# --- The cross-host lock: two processes race for the exclusive lock ------------------------------
# Each round starts two expires together; the winner holds the lock for 2 s (paused at its first
# stage), so the other finds it taken, whatever the order. Exactly one wins, every round.
for round in 1 2 3 4 5; do
    pids=()
    for racer in a b; do
        as_pg env LIFEBOAT_TEST_STAGE_HOOK="plan:pause=2" "$LB" expire --config "$CONF" \
            --repo west --retention-window 30d --keep-min 1 --lock-wait 0 \
            >"$T/race-$racer.out" 2>"$T/race-$racer.err" &
        pids+=($!)
    done
    statuses=()
    for pid in "${pids[@]}"; do
        rc=0
        wait "$pid" || rc=$?
        statuses+=("$rc")
    done
    sorted=$(printf '%s\n' "${statuses[@]}" | sort -n | tr '\n' ' ')
    [ "$sorted" = "0 7 " ] || { cat "$T"/race-*.err >&2; fail "round $round: exit statuses $sorted, expected one 0 and one 7"; }
done
ok "5 rounds of two racing expires: exactly one held the lock each time"
expect_exit 0 lb verify --config "$CONF" --repo west

# --- Abandoned multipart uploads ------------------------------------------------------------------
# (curl signs the query as written: parameters sorted, values encoded, each with its '='.)
s3_request POST "west/lifeboat/data/00/abandoned-pack?uploads=" >"$T/upload.xml"
UPLOAD_ID=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$T/upload.xml")
[ -n "$UPLOAD_ID" ] || { cat "$T/upload.xml" >&2; fail "no multipart upload started"; }
head -c 1048576 /dev/urandom >"$T/part"
s3_request PUT "west/lifeboat/data/00/abandoned-pack?partNumber=1&uploadId=$UPLOAD_ID" \
    --data-binary @"$T/part" -o /dev/null
pending() { s3_request GET "west?prefix=lifeboat%2F&uploads=" | grep -o "<UploadId>[^<]*</UploadId>" | wc -l; }
expect_eq "$(pending)" 1 "the abandoned upload is pending"
expect_exit 0 lb verify --config "$CONF" --repo west  # invisible to readers
# A young upload may belong to a live writer: left alone.
expect_exit 0 lb expire --config "$CONF" --repo west --retention-window 30d --keep-min 1
expect_eq "$(pending)" 1 "a young upload is left alone"
# Two days later (simulated clock) it is abandoned: aborted, and said so.
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LATER=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
expect_exit 0 as_pg env LIFEBOAT_TEST_CLOCK="$NOW $LATER 1" "$LB" expire --config "$CONF" \
    --repo west --retention-window 30d --keep-min 1
expect_in "$ERR" "aborted an abandoned upload of data/00/abandoned-pack"
expect_eq "$(pending)" 0 "the abandoned upload was aborted"
expect_exit 0 lb verify --config "$CONF" --repo west
ok "an abandoned multipart upload was aborted by expire"

# --- Signatures are checked -------------------------------------------------------------------
expect_exit 5 as_pg env AWS_SECRET_ACCESS_KEY=wrong-secret "$LB" list --repo "$WEST"
expect_one_line_error
expect_in "$ERR" "SignatureDoesNotMatch"
ok "a wrong secret is refused by the server"
finish
