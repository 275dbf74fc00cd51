#!/usr/bin/env bash
# Restore from an object store reads blocks by pack in few ranged requests (issue 18): a backup
# copied into a real S3 gateway (Ceph RGW) restores exactly, with `requests` in restore --json
# close to the plan (stored bytes / 4 MiB + one per pack, at most twice that), the same whatever
# the io depth; the io depth comes from --io-depth, LIFEBOAT_IO_DEPTH, the repository's own
# io_depth in the configuration file, else the storage's default (32 for S3); verify and copy
# report their requests too; a bad io_depth is one line.
source "$(dirname "$0")/lib.sh" "$@"

LIFEBOAT_S3_SERVER=rgw start_s3 far
FAR="s3://far/lifeboat?endpoint=$S3_ENDPOINT&style=path"
CREDENTIALS=(env "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY")
lbs3() { as_pg "${CREDENTIALS[@]}" "$LB" "$@"; }

start_source
# Data that does not compress away: several MiB stored, so ranges and packs matter.
q "CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)"
q "INSERT INTO items SELECT g, string_agg(md5(g::text || ':' || k::text), '') FROM generate_series(1, 40000) g, generate_series(1, 8) k GROUP BY g"
q "CHECKPOINT" >/dev/null
WANT=$(q "SELECT count(*) || ':' || sum(hashtext(payload)) FROM items")
backup_json --jobs 2
expect_exit 0 lbs3 repo-init --repo "$FAR"
expect_exit 0 lbs3 copy --from "$REPO" --to "$FAR" --json
expect_eq "$(jq -r '.requests > 0 and .bytes_fetched > 0 and .io_depth == 4' "$OUT")" true \
    "copy --json reports the requests of reading the local source (io depth 4)"
expect_exit 0 lbs3 verify --repo "$FAR" --json
PACKS=$(jq -r .packs "$OUT")
expect_eq "$(jq -r '.ok and .io_depth == 32 and .requests >= .packs' "$OUT")" true \
    "verify --json: one read per pack at least, io depth 32"
STORED=$(lbs3 list --repo "$FAR" --json | jq -r '[.backups[].stored_bytes] | add')

# restore_far DIR ARGS...: a files-only restore from the bucket, --json in $OUT.
restore_far() {
    local dir=$1
    shift
    DATA_DIRS+=("$dir")
    expect_exit 0 lbs3 restore --repo "$FAR" --to consistent --target-dir "$dir" --json "$@"
}
restore_far "$T/r1"
REQUESTS=$(jq -r .requests "$OUT")
FETCHED=$(jq -r .bytes_fetched "$OUT")
expect_eq "$(jq -r .io_depth "$OUT")" 32 "the S3 default io depth"
PLANNED=$(( (STORED + 4194303) / 4194304 + PACKS ))
[ "$REQUESTS" -ge 1 ] && [ "$REQUESTS" -le $(( 2 * PLANNED )) ] ||
    fail "restore made $REQUESTS requests for $STORED stored bytes in $PACKS packs (planned about $PLANNED)"
ok "restore: $REQUESTS ranged requests, $FETCHED bytes fetched ($STORED stored, $PACKS packs)"

# The plan does not depend on the depth; the data is the source's.
restore_far "$T/r2" --io-depth 1
expect_eq "$(jq -r .requests "$OUT")" "$REQUESTS" "the same requests at io depth 1"
expect_eq "$(jq -r .io_depth "$OUT")" 1 "--io-depth 1"
PORT=$(free_port)
cat >>"$T/r2/postgresql.auto.conf" <<EOF
port = $PORT
unix_socket_directories = '$T'
listen_addresses = ''
EOF
start_server "$T/r2"
expect_eq "$(psql_on "$(conninfo_for "$PORT")" "SELECT count(*) || ':' || sum(hashtext(payload)) FROM items")" \
    "$WANT" "rows restored from the bucket"
ok "restored from the bucket: every row as in the source"

# Where the depth comes from: the repository's own io_depth, overridden by the environment.
CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOF
[repositories.far]
path = "$FAR"
io_depth = 7
EOF
chmod 644 "$CONF"
restore_far "$T/r3" --config "$CONF"
expect_eq "$(jq -r .io_depth "$OUT")" 7 "io_depth of [repositories.far]"
DATA_DIRS+=("$T/r4")
expect_exit 0 as_pg "${CREDENTIALS[@]}" LIFEBOAT_IO_DEPTH=5 "$LB" restore --repo "$FAR" \
    --config "$CONF" --to consistent --target-dir "$T/r4" --json
expect_eq "$(jq -r .io_depth "$OUT")" 5 "LIFEBOAT_IO_DEPTH over the repository's io_depth"
sed -i 's/io_depth = 7/io_depth = 1000/' "$CONF"
expect_exit 3 lbs3 restore --repo "$FAR" --config "$CONF" --to consistent --target-dir "$T/r5"
expect_one_line_error
expect_in "$ERR" "io_depth"
expect_exit 2 lbs3 restore --repo "$FAR" --io-depth 300 --to consistent --target-dir "$T/r5"
expect_one_line_error
ok "io depth: flag, environment, the repository's own; out of range is one line"
finish
