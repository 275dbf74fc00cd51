#!/usr/bin/env bash
# Expiry killed (SIGKILL) at each of its stages — after planning (before any deletion), after
# deleting the first backup, after the first WAL file, after writing the repacked packs, after
# writing the new index, after the first pack deletion — leaves a repository that passes verify in
# which every remaining backup restores; the next expire completes the job.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE big (id int PRIMARY KEY, pad text)"
q "INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 60000) g"
q "CREATE TABLE steady (id int PRIMARY KEY, pad text)"
q "INSERT INTO steady SELECT g, repeat(md5((-g)::text), 8) FROM generate_series(1, 30000) g"
for round in 1 2 3 4 5; do
    # Rewrites a third of `big` each round, so older packs end up partly or wholly garbage.
    q "UPDATE big SET pad = md5(random()::text) || pad WHERE id % 3 = $(( round % 3 ))" >/dev/null
    q "VACUUM big"
    switch_wal_and_wait
    backup_json
done
ROWS=$(q "SELECT count(*) FROM big")
as_pg cp -a "$REPO" "$T/pristine"
POLICY=(--retention-window 0 --keep-min 2 --repack-below 0.99)

check_repository() {  # verify, then restore every listed backup (files only: every block is read)
    local what=$1 id n=0
    expect_exit 0 lb verify --repo "$REPO"
    expect_exit 0 lb list --repo "$REPO" --json
    for id in $(jq -r '.backups[].id' "$OUT"); do
        n=$((n + 1))
        expect_exit 0 lb restore --repo "$REPO" --backup "$id" --to consistent --target-dir "$T/r-$n"
        as_pg rm -rf "$T/r-$n"
    done
    ok "$what: verify passes and all $n backups restore"
}

for stage in plan backups wal repack index packs; do
    as_pg rm -rf "$REPO"
    as_pg cp -a "$T/pristine" "$REPO"
    expect_exit 137 as_pg env LIFEBOAT_TEST_STAGE_HOOK="$stage:kill" "$LB" expire --repo "$REPO" "${POLICY[@]}"
    check_repository "killed at $stage"
    expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --json
    expect_eq "$(jq '.backups | map(select(.keep)) | length' "$OUT")" 2 "backups kept after $stage"
    check_repository "expire after the kill at $stage"
    expect_exit 0 lb expire --repo "$REPO" "${POLICY[@]}" --json
    expect_eq "$(jq '.expired | length' "$OUT")" 0 "a third expire after $stage: backups"
    expect_eq "$(jq '.packs_deleted + .packs_repacked' "$OUT")" 0 "a third expire after $stage: packs"
done

# The newest backup, started: all rows are there.
restore_into "$T/final" --to latest --port "$(free_port)" --start
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM big")" "$ROWS" "rows after the last expire"
stop_server "$T/final"
finish
