#!/usr/bin/env bash
# Issue 12, item 3: the corruption sweep. A repository with two backups of a small cluster,
# archived WAL (and .backup files), a pin, a drill record and the cluster identity, plus an
# encrypted copy of it (its config holds the wrapped key); then corruption_sweep.py flips one
# byte at SWEEP_FLIPS (1,000) seeded random offsets spread over every kind of object, one at a
# time: verify must detect and name every one (and the backups affected), and for every
# SWEEP_SAMPLE-th (20th) flip of each kind a restore of an affected backup must refuse or give
# exactly the source's data (the files of an intact restore of the same backup; for WAL, the
# table's checksum read from the restored, started server). The seed is printed; SWEEP_SEED
# gives the same plan again for a repository with the same objects, SWEEP_ONLY=N,M reruns some.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh" "$@"

# 1 MB WAL segments: verify reads every segment at each of the 1,000 flips.
start_source --wal-segsize=1
q "CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)"
q "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
backup_json
FIRST=$BACKUP_ID
q "UPDATE items SET payload = payload || 'x' WHERE id % 7 = 0"
switch_wal_and_wait
backup_json --tag purpose=sweep
SECOND=$BACKUP_ID
q "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(20001, 25000) g"
switch_wal_and_wait
expect_exit 0 lb pin "$FIRST" --repo "$REPO"
expect_exit 0 lb drill --repo "$REPO" --to latest --jobs 1
ok "backups $FIRST and $SECOND, a pin, a drill"

# The encrypted variant: everything copied into a repository sealed with a key file.
KEY="$T/key"
head -c 32 /dev/urandom >"$KEY"
chmod 600 "$KEY"
[ "$(id -u)" != 0 ] || chown "$PG_USER": "$KEY"
expect_exit 0 lb repo-init --repo "$T/enc" --encrypt --key-file "$KEY"
expect_exit 0 lb copy --from "$REPO" --to "$T/enc" --to-key-file "$KEY"
# Its cluster identity (written by the first wal-push) and a drill record of its own.
expect_exit 0 lb wal-push --repo "$T/enc" --key-file "$KEY" "$SRC/pg_wal/$(q "SELECT last_archived_wal FROM pg_stat_archiver")"
expect_exit 0 lb drill --repo "$T/enc" --key-file "$KEY" --to latest --jobs 1
expect_exit 0 lb verify --repo "$T/enc" --key-file "$KEY"
expect_exit 0 lb verify --repo "$REPO"
ok "encrypted copy; both verify"

CHECKSUM_SQL="SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM items"
EXPECTED=$(q "$CHECKSUM_SQL")
mkdir "$T/sweep"
[ "$(id -u)" != 0 ] || chown "$PG_USER": "$T/sweep"
SEED_ARGS=()
[ -z "${SWEEP_SEED:-}" ] || SEED_ARGS=(--seed "$SWEEP_SEED")
[ -z "${SWEEP_ONLY:-}" ] || SEED_ARGS+=(--only "$SWEEP_ONLY")
python3 "$HERE/corruption_sweep.py" --lifeboat "$LB" --work "$T/sweep" \
    --variant "plain=$REPO" --variant "encrypted=$T/enc:$KEY" \
    --expected-md5 "$EXPECTED" --checksum-sql "$CHECKSUM_SQL" \
    --flips "${SWEEP_FLIPS:-1000}" --sample "${SWEEP_SAMPLE:-20}" --workers 2 "${SEED_ARGS[@]}" ||
    fail "the corruption sweep found undetected flips or silently different restores (above)"
finish
