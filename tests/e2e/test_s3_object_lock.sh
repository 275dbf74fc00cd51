#!/usr/bin/env bash
# Issue 12, item 7: immutability against a real S3 server with object lock (Ceph's RADOS
# Gateway, scripts/rgw.sh; s3rver has no object lock). repo-init --object-lock-days is refused for
# a bucket without object lock (one line, exit 2) and recorded for one with it; every object
# Lifeboat writes there (backups, packs, WAL from archive_command, multipart uploads included)
# carries the retention, and a direct DELETE of an object version is refused by the store.
# expire keeps what is still retained and reports it (kept_locked, kept_locked_until), and when
# the store refuses a delete anyway (simulated: the test clock puts expire past the retention) the
# run still succeeds and reports the objects as locked. pin --legal-hold puts a legal hold on
# every object the backup needs (even a governance bypass cannot delete them), unpin releases it;
# --legal-hold is refused where the store has no object lock. A read-only S3 credential (an RGW
# subuser with read access) with --read-only lists, verifies and restores.
source "$(dirname "$0")/lib.sh" "$@"

LIFEBOAT_S3_SERVER=rgw start_s3 plain
log "RGW at $S3_ENDPOINT"
s3_request PUT locked -H "x-amz-bucket-object-lock-enabled: true" -o /dev/null -w '%{http_code}' |
    grep -q 200 || fail "cannot create a bucket with object lock"
s3_request PUT governed -H "x-amz-bucket-object-lock-enabled: true" -o /dev/null -w '%{http_code}' |
    grep -q 200 || fail "cannot create a second bucket with object lock"
PLAIN="s3://plain/lifeboat?endpoint=$S3_ENDPOINT&style=path&conditional_writes=verified"
LOCKED="s3://locked/lifeboat?endpoint=$S3_ENDPOINT&style=path&conditional_writes=verified"
# Without conditional_writes=verified a pack above 8 MiB goes up in parts (multipart).
GOVERNED="s3://governed/lifeboat?endpoint=$S3_ENDPOINT&style=path"

# A bucket without object lock: refused, saying how to make one, and nothing written.
expect_exit 2 lb repo-init --repo "$PLAIN" --object-lock-days 7
expect_one_line_error
expect_in "$ERR" "object lock" "the refusal names object lock"
expect_in "$ERR" "object-lock-enabled" "the refusal says how to create a bucket with object lock"
expect_eq "$(keys plain lifeboat/ | wc -l)" 0 "objects in the refused bucket"
expect_exit 2 lb repo-init --repo "$T/local" --object-lock-days 7
expect_one_line_error
expect_exit 0 lb repo-init --repo "$PLAIN"
ok "repo-init --object-lock-days refused without object lock"

expect_exit 0 lb repo-init --repo "$LOCKED" --object-lock-days 1 --object-lock-mode compliance --json
expect_eq "$(jq -c .object_lock "$OUT")" '{"days":1,"mode":"compliance"}' "repo-init --json object_lock"
expect_exit 0 lb repo-init --repo "$GOVERNED" --object-lock-days 1 --json
expect_eq "$(jq -r .object_lock.mode "$OUT")" governance "default object-lock mode"

REPO=$LOCKED
init_source
CREDENTIALS="AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
CONF="$T/lifeboat.toml"
# wal-push archives into every repository a backup is taken in.
cat >"$CONF" <<EOC
[repositories.locked]
path = "$LOCKED"
archive = true

[repositories.governed]
path = "$GOVERNED"
archive = true

[repositories.plain]
path = "$PLAIN"
archive = true
EOC
chmod 644 "$CONF"
sed -i "s|archive_command = .*|archive_command = '$CREDENTIALS ''$LB'' wal-push %p --config ''$CONF'''|" "$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE t (id int PRIMARY KEY, payload text)"
# Enough hardly compressible data for a pack larger than one multipart part (8 MiB).
q "INSERT INTO t SELECT g, string_agg(md5(g::text || i::text), '') FROM generate_series(1, 16000) g, generate_series(1, 40) i GROUP BY g"
backup_json
FIRST=$BACKUP_ID
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(16001, 17000) g"
switch_wal_and_wait
backup_json
SECOND=$BACKUP_ID
switch_wal_and_wait
# The same in the governance-mode repository (for the legal hold below).
expect_exit 0 lb backup --repo "$GOVERNED" --pg "$CONNINFO" --json
GOV_BACKUP=$(jq -r .id "$OUT")

# keys BUCKET PREFIX: the object names under a prefix.
# (curl signs a query only with its '/' encoded, and every parameter with a value.)
keys() { s3_request GET "$1?list-type=2&prefix=${2//\//%2F}" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'; }
# head_object BUCKET KEY: the response headers of a HEAD.
head_object() { s3_request HEAD "$1/$2" -I; }
version_of() { head_object "$1" "$2" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-amz-version-id"{print $2}'; }

ALL=$(keys locked lifeboat/)
for kind in config backups/ data/ index/ wal/; do
    key=$(echo "$ALL" | grep "^lifeboat/$kind" | head -n 1)
    [ -n "$key" ] || fail "no $kind object in the locked repository"
    headers=$(head_object locked "$key" | tr -d '\r')
    echo "$headers" | grep -qi '^x-amz-object-lock-mode: COMPLIANCE' ||
        { echo "$headers" >&2; fail "$key carries no compliance retention"; }
    echo "$headers" | grep -qi '^x-amz-object-lock-retain-until-date: ' ||
        fail "$key carries no retain-until date"
done
# In the governance repository the large pack went up in parts: retained too.
big=$(s3_request GET "governed?list-type=2&prefix=lifeboat%2Fdata%2F" |
    grep -o '<Key>[^<]*</Key><LastModified>[^<]*</LastModified><ETag>[^<]*</ETag><Size>[0-9]*' |
    grep -- '-[0-9]*&quot;\|-[0-9]*"' | head -n 1 | sed 's/<Key>\([^<]*\)<.*/\1/')
[ -n "$big" ] || fail "no pack was uploaded in parts (multipart ETag)"
head_object governed "$big" | tr -d '\r' | grep -qi '^x-amz-object-lock-mode: GOVERNANCE' ||
    fail "the multipart pack $big carries no retention"
ok "every object written carries its retention (PUT, and multipart for $big)"

# A direct DELETE of a version is refused by the store, and the object is still there.
PACK=$(echo "$ALL" | grep '^lifeboat/data/' | head -n 1)
VERSION=$(version_of locked "$PACK")
[ -n "$VERSION" ] || fail "no version id for $PACK"
code=$(s3_request DELETE "locked/$PACK?versionId=$VERSION" -o "$T/delete.xml" -w '%{http_code}')
expect_eq "$code" 403 "direct DELETE of a retained version"
expect_in "$T/delete.xml" AccessDenied "the store says AccessDenied"
code=$(s3_request DELETE "locked/$PACK?versionId=$VERSION" -H "x-amz-bypass-governance-retention: true" \
    -o /dev/null -w '%{http_code}')
expect_eq "$code" 403 "DELETE with governance bypass of a compliance version"
expect_exit 0 lb verify --repo "$LOCKED"
ok "the store refuses to delete a retained object; verify passes"

# expire: the first backup is outside the policy, but its manifest is retained: kept, reported.
expect_exit 0 lb expire --repo "$LOCKED" --keep-min 1 --retention-window 0 --json
jq -e --arg id "$FIRST" '.backups[] | select(.id == $id) | .keep and (.reasons | join(" ") | test("object lock until"))' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "expire did not keep the retained backup with its reason"; }
expect_eq "$(jq -r '.expired | length' "$OUT")" 0 "backups expired while retained"
[ "$(jq -r .kept_locked "$OUT")" -ge 1 ] || { cat "$OUT" >&2; fail "kept_locked not reported"; }
until_date=$(jq -r .kept_locked_until "$OUT")
[[ "$until_date" > "$(date -u +%Y-%m-%dT%H:%M:%S)" ]] || fail "kept_locked_until '$until_date' is not in the future"
expect_exit 0 lb expire --repo "$LOCKED" --keep-min 1 --retention-window 0
expect_in "$OUT" "kept [0-9]+ object\(s\) still under object-lock retention" "expire's text names the kept objects"
expect_exit 0 lb list --repo "$LOCKED" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 2 "backups listed after expire"
ok "expire keeps retained objects and reports them (kept_locked until $until_date)"

# Past the retention by expire's clock (but not the store's): the store refuses each delete, and
# the run reports the objects as locked instead of failing.
LATER=$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)
expect_exit 0 as_pg env LIFEBOAT_TEST_CLOCK="$(date -u +%Y-%m-%dT%H:%M:%SZ) $LATER 1" \
    AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    "$LB" expire --repo "$LOCKED" --keep-min 1 --retention-window 0 --json
[ "$(jq -r .kept_locked "$OUT")" -ge 1 ] || { cat "$OUT" >&2; fail "refused deletes not reported as locked"; }
head_object locked "$PACK" | head -n 1 | grep -q 200 || fail "$PACK is gone"
head_object locked "lifeboat/backups/$FIRST" | head -n 1 | grep -q 200 ||
    fail "the retained manifest of $FIRST is gone"
ok "deletes the store refuses are reported as locked, the run succeeds"

# Legal hold, in the governance repository: a governance bypass deletes an unheld object, but not
# a held one; unpin releases the holds.
expect_exit 0 lb pin "$GOV_BACKUP" --repo "$GOVERNED" --legal-hold --json
expect_eq "$(jq -r .legal_hold "$OUT")" true "pin --json legal_hold"
GOV_PACK=$(keys governed lifeboat/data/ | head -n 1)
GOV_MANIFEST="lifeboat/backups/$GOV_BACKUP"
for key in "$GOV_PACK" "$GOV_MANIFEST"; do
    s3_request GET "governed/$key?legal-hold=" | grep -q '<Status>ON</Status>' ||
        fail "$key has no legal hold after pin --legal-hold"
done
VERSION=$(version_of governed "$GOV_MANIFEST")
code=$(s3_request DELETE "governed/$GOV_MANIFEST?versionId=$VERSION" -H "x-amz-bypass-governance-retention: true" \
    -o /dev/null -w '%{http_code}')
expect_eq "$code" 403 "governance-bypass DELETE of a held manifest"
expect_exit 0 lb unpin "$GOV_BACKUP" --repo "$GOVERNED"
s3_request GET "governed/$GOV_MANIFEST?legal-hold=" | grep -q '<Status>ON</Status>' &&
    fail "unpin left the legal hold on"
code=$(s3_request DELETE "governed/$GOV_MANIFEST?versionId=$VERSION" -H "x-amz-bypass-governance-retention: true" \
    -o /dev/null -w '%{http_code}')
expect_eq "$code" 204 "governance-bypass DELETE after unpin"
ok "a legal hold blocks deletion until unpin"

# --legal-hold where the store has no object lock: refused, one line, and no pin left.
expect_exit 0 lb backup --repo "$PLAIN" --pg "$CONNINFO" --json
PLAIN_BACKUP=$(jq -r .id "$OUT")
expect_exit 2 lb pin "$PLAIN_BACKUP" --repo "$PLAIN" --legal-hold
expect_one_line_error
expect_in "$ERR" "object lock"
expect_eq "$(keys plain lifeboat/pins/ | wc -l)" 0 "pins after a refused --legal-hold"
ok "pin --legal-hold refused without object lock"

# A credential that may only read (an RGW subuser with read access) is enough for read-only mode:
# list, verify and a restore to latest (WAL replayed through wal-fetch) write nothing, not even a
# lock object, where the same credential cannot pin.
radosgw-admin -c "$LIFEBOAT_RGW_DIR/ceph.conf" -n client.rgw --admin-socket "" subuser create \
    --uid=lifeboat --subuser=lifeboat:ro --access=read --key-type=s3 \
    --access-key=lifeboat-ro-access --secret=lifeboat-ro-secret-0123456789abcdefghij \
    >"$T/subuser.log" 2>&1 || { cat "$T/subuser.log" >&2; fail "cannot create a read-only RGW user"; }
ro() {
    as_pg env AWS_ACCESS_KEY_ID=lifeboat-ro-access \
        AWS_SECRET_ACCESS_KEY=lifeboat-ro-secret-0123456789abcdefghij "$LB" "$@"
}
# The gateway may take a moment to know the new key.
for _ in $(seq 300); do ro list --repo "$LOCKED" --read-only >/dev/null 2>&1 && break; sleep 0.1; done
expect_exit 5 ro pin "$SECOND" --repo "$LOCKED"
expect_one_line_error
expect_in "$ERR" AccessDenied "the store refuses the read-only credential's write"
expect_exit 0 ro list --repo "$LOCKED" --read-only --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 2 "backups listed with the read-only credential"
expect_exit 0 ro verify --repo "$LOCKED" --read-only
DATA_DIRS+=("$T/restored")
expect_exit 0 ro restore --repo "$LOCKED" --read-only --to latest --target-dir "$T/restored" \
    --start --port "$(free_port)" --json
RESTORED_CONN=$(jq -r '.conninfo // empty' "$OUT")
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM t")" 17000 "rows restored read-only"
expect_eq "$(keys locked lifeboat/locks/ | wc -l)" 0 "lock objects after the read-only commands"
ok "list, verify and restore work with a read-only S3 credential"

finish
