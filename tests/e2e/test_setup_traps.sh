#!/usr/bin/env bash
# Failed set-up leaves no trap: a repo-init that fails (or is killed) half-way leaves nothing, or
# a layout repo-init builds on when run again; "not empty" (repo-init) and "not a Lifeboat
# repository" (every other command) point at each other; two backups started in the same second
# both succeed with distinct ids (the second takes the `_2` suffix) and both restore.
source "$(dirname "$0")/lib.sh" "$@"

# ---- repo-init refused before anything is written: nothing left behind
R="$T/parent/repo"
expect_exit 2 lb repo-init --repo "$R" --encrypt --key-file "$T/no-such-key"
expect_one_line_error
[ ! -e "$T/parent" ] || fail "a refused repo-init left $(find "$T/parent")"
ok "repo-init refused for a missing key file leaves nothing: $(cat "$ERR")"

# ---- repo-init failing after its directories were made: they are removed again
expect_exit 11 as_pg env LIFEBOAT_TEST_STAGE_HOOK=repo-init:fail "$LB" repo-init --repo "$R"
expect_one_line_error
[ ! -e "$T/parent" ] || fail "a failed repo-init left $(find "$T/parent")"
as_pg mkdir "$T/empty"
expect_exit 11 as_pg env LIFEBOAT_TEST_STAGE_HOOK=repo-init:fail "$LB" repo-init --repo "$T/empty"
[ -d "$T/empty" ] && [ -z "$(ls -A "$T/empty")" ] || fail "a failed repo-init left $(ls -A "$T/empty")"
ok "repo-init failing before its config object is published cleans up after itself"

# ---- repo-init killed half-way: the empty layout is recognised, and repo-init runs again on it
expect_exit 137 as_pg env LIFEBOAT_TEST_STAGE_HOOK=repo-init:kill "$LB" repo-init --repo "$R"
[ -d "$R/data" ] || fail "the kill hook did not stop repo-init after making its directories"
[ ! -e "$R/config" ] || fail "the kill hook did not stop repo-init before its config object"
expect_exit 4 lb list --repo "$R"
expect_one_line_error
expect_in "$ERR" "unfinished repo-init" "list should recognise an interrupted repo-init"
expect_in "$ERR" "repo-init" "list should say to run repo-init again"
ok "list on a killed repo-init's directory (4): $(cat "$ERR")"
expect_exit 0 lb repo-init --repo "$R"
expect_exit 0 lb list --repo "$R"
ok "repo-init run again on the killed one's directory succeeds"

# ---- a directory with other content: the two refusals name each other
as_pg mkdir -p "$T/stray/data"
as_pg touch "$T/stray/notes.txt"
expect_exit 7 lb repo-init --repo "$T/stray"
expect_one_line_error
expect_in "$ERR" "not empty" "repo-init should say the directory is not empty"
expect_in "$ERR" "not a Lifeboat repository" "repo-init should say what the other commands call it"
ok "repo-init on a non-empty directory (7): $(cat "$ERR")"
expect_exit 4 lb list --repo "$T/stray"
expect_one_line_error
expect_in "$ERR" "not a Lifeboat repository" "list should say it is no repository"
expect_in "$ERR" "repo-init. refuses it" "list should say why repo-init will not fix it"
ok "list on it (4): $(cat "$ERR")"
[ -f "$T/stray/notes.txt" ] || fail "a refused repo-init touched the directory"

# ---- two backups started in the same second
start_source
q "CREATE TABLE items (id serial PRIMARY KEY, payload text NOT NULL)"
q "INSERT INTO items (payload) SELECT md5(g::text) FROM generate_series(1, 5000) g"
switch_wal_and_wait

# Both ids come from the start time (whole seconds): start the two together, just after a second
# begins, so that they collide. A round whose starts straddle a second proves nothing: retry.
SUFFIXED=""
for round in 1 2 3; do
    now=$(date +%s.%N)
    sleep "$(echo "1.05 - ($now - ${now%.*})" | bc)"
    as_pg "$LB" backup --repo "$REPO" --pg "$CONNINFO" --json >"$T/a$round.json" 2>"$T/a$round.err" &
    PID_A=$!
    as_pg "$LB" backup --repo "$REPO" --pg "$CONNINFO" --json >"$T/b$round.json" 2>"$T/b$round.err" &
    PID_B=$!
    RC_A=0
    RC_B=0
    wait "$PID_A" || RC_A=$?
    wait "$PID_B" || RC_B=$?
    [ "$RC_A" = 0 ] || { cat "$T/a$round.err" >&2; fail "round $round: backup A exited $RC_A"; }
    [ "$RC_B" = 0 ] || { cat "$T/b$round.err" >&2; fail "round $round: backup B exited $RC_B"; }
    ID_A=$(jq -r .id "$T/a$round.json")
    ID_B=$(jq -r .id "$T/b$round.json")
    [ "$ID_A" != "$ID_B" ] || fail "round $round: both backups report id $ID_A"
    log "round $round: ids $ID_A and $ID_B"
    if [ "${ID_A%_2}" = "${ID_B%_2}" ]; then
        SUFFIXED="$ID_A $ID_B"
        break
    fi
done
[ -n "$SUFFIXED" ] || fail "no round started both backups in the same second"
ok "two backups started in the same second: $SUFFIXED"

expect_exit 0 lb list --repo "$REPO" --json
for id in $SUFFIXED; do
    jq -e --arg id "$id" '.backups | map(.id) | index($id) != null' "$OUT" >/dev/null ||
        fail "list does not show backup $id"
done
for id in $SUFFIXED; do
    restore_into "$T/r-$id" --backup "$id" --to consistent --port "$(free_port)" --start
    GOT=$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM items")
    expect_eq "$GOT" 5000 "rows restored from backup $id"
    stop_server "$T/r-$id"
    ok "backup $id restores (5000 rows)"
done

finish
