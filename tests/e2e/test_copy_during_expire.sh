#!/usr/bin/env bash
# A copy started while an expire holds the source repository waits for it before reading
# anything of the source: it copies what the source holds once expire has finished, and reports
# no damage. (A copy that read the source's manifests first would then miss the blocks expire
# collected and report a backup as damaged.)
source "$(dirname "$0")/lib.sh" "$@"

start_source
# The first backup holds blocks no later backup shares (a table dropped before the second).
q "CREATE TABLE gone (id int PRIMARY KEY, payload text NOT NULL)"
q "INSERT INTO gone SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 200000) g"
backup_json --type full
FIRST=$BACKUP_ID
q "DROP TABLE gone"
q "CREATE TABLE kept (id int PRIMARY KEY)"
q "INSERT INTO kept SELECT g FROM generate_series(1, 1000) g"
q "CHECKPOINT"
backup_json --type full
SECOND=$BACKUP_ID
switch_wal_and_wait

DEST="$T/dest"
expect_exit 0 lb repo-init --repo "$DEST"

wait_for_lock() {  # wait_for_lock GLOB: until a lock object matching it exists in the source
    for _ in $(seq 1 600); do
        compgen -G "$REPO/locks/$1" >/dev/null && return 0
        sleep 0.05
    done
    fail "no lock $1 appeared"
}

# Expire (keeping only the newest backup) holds the source, paused after planning: it has not
# removed anything yet when the copy starts.
as_pg env LIFEBOAT_TEST_STAGE_HOOK=plan:pause=5 "$LB" expire --repo "$REPO" \
    --retention-window 0 --keep-min 1 --json >"$T/expire.json" 2>"$T/expire.err" &
EXPIRE=$!
BG_PIDS+=("$EXPIRE")
wait_for_lock exclusive
expect_exit 0 lb copy --from "$REPO" --to "$DEST" --json
COPY=$(cat "$OUT")
wait "$EXPIRE" || { cat "$T/expire.err" >&2; fail "the paused expire failed"; }
jq -e --arg id "$FIRST" '.expired == [$id]' "$T/expire.json" >/dev/null ||
    fail "expire should have removed $FIRST: $(cat "$T/expire.json")"

echo "$COPY" >"$T/copy.json"
expect_eq "$(jq -c '.not_copied // [] | length' "$T/copy.json")" 0 \
    "backups the copy left behind ($(jq -c .not_copied "$T/copy.json"))"
expect_eq "$(jq -c '.damaged // [] | length' "$T/copy.json")" 0 \
    "damage the copy reported ($(jq -c .damaged "$T/copy.json"))"
expect_eq "$(jq -c '.copied_backups' "$T/copy.json")" "[\"$SECOND\"]" "backups copied"
expect_exit 0 lb verify --repo "$DEST"
REPO=$DEST  # restore from the copy
restore_into "$T/r" --to consistent --start --port "$(free_port)"
finish
