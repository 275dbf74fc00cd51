#!/usr/bin/env bash
# Shell injection through restore_command (issue 9, item 10). Restore builds restore_command from
# the lifeboat binary's and the repository's paths. With a repository path containing
# `';touch INJECTED;'` that command must not run, and the restore must reach its target; a path
# with a plain quote, a %, spaces and a $(...) must restore too. The binary itself lives in a
# directory with a quote, a %p and a $(...) in its name.
source "$(dirname "$0")/lib.sh" "$@"

now_utc() { q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
# One POSIX shell word, with % doubled for PostgreSQL's %-expansion (what the test's own
# archive_command needs; restore must do the same for restore_command).
command_word() {
    local sq="'" q
    q="'${1//$sq/$sq\\$sq$sq}'"
    printf '%s' "${q//%/%%}"
}

HOSTILE_BIN_DIR="$T/bin dir 'q' 50%p \$(touch BIN_SUBST)"
as_pg mkdir -p "$HOSTILE_BIN_DIR"
as_pg cp "$LB" "$HOSTILE_BIN_DIR/lifeboat"
LB="$HOSTILE_BIN_DIR/lifeboat"
REPO_A="$T/repo';touch INJECTED;'"
REPO_B="$T/it's 100% a \$(touch SUBST) repo"

as_pg "$LB" repo-init --repo "$REPO_A" >/dev/null || fail "repo-init $REPO_A"
as_pg "$LB" repo-init --repo "$REPO_B" >/dev/null || fail "repo-init $REPO_B"
REPO=$REPO_A
init_source
ARCHIVE="$(command_word "$LB") wal-push %p --repo $(command_word "$REPO_A") && $(command_word "$LB") wal-push %p --repo $(command_word "$REPO_B")"
# In the configuration file's quoted strings a backslash escapes, and ' is doubled.
SQ="'"
BS='\'
ARCHIVE=${ARCHIVE//"$BS"/"$BS$BS"}
printf "archive_command = '%s'\n" "${ARCHIVE//$SQ/$SQ$SQ}" | as_pg tee -a "$SRC/postgresql.conf" >/dev/null
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE rows (id serial PRIMARY KEY, batch text NOT NULL)"
REPO=$REPO_A backup_json
REPO=$REPO_B backup_json
q "INSERT INTO rows (batch) SELECT 'before' FROM generate_series(1, 40)"
sleep 1
TARGET=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'after' FROM generate_series(1, 40)"
switch_wal_and_wait
for r in "$REPO_A" "$REPO_B"; do
    expect_exit 0 lb list --repo "$r" --json
    [ "$(jq -r .window.latest "$OUT")" != null ] || fail "no restorable window in $r"
done
ok "source archives into both hostile repositories; target $TARGET"

injected() { find "$T" \( -name 'INJECTED*' -o -name 'SUBST*' -o -name 'BIN_SUBST*' \) -print; }
[ -z "$(injected)" ] || fail "injected files before any restore: $(injected)"

n=0
for r in "$REPO_A" "$REPO_B"; do
    n=$((n + 1))
    DIR="$T/restored-$n"
    DATA_DIRS+=("$DIR")
    RC=0
    lb restore --repo "$r" --target-dir "$DIR" --to "$TARGET" --start --json >"$OUT" 2>"$ERR" || RC=$?
    if [ "$RC" != 0 ]; then
        defer_fail "restore from '$r' failed (status $RC): $(tail -n 1 "$ERR")"
    else
        CONN=$(jq -r .conninfo "$OUT")
        GOT=$(psql_on "$CONN" "SELECT string_agg(DISTINCT batch, ',') || '/' || count(*) FROM rows")
        if [ "$GOT" = "before/40" ]; then
            ok "restore from '$r' reaches the target ($GOT)"
        else
            defer_fail "restore from '$r' gave '$GOT', expected 'before/40'"
        fi
        as_pg "$PGBIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null || true
    fi
    if [ -n "$(injected)" ]; then
        defer_fail "restore from '$r' ran injected commands: $(injected | tr '\n' ' ')"
        injected | while read -r f; do rm -f "$f"; done
    fi
done

finish
