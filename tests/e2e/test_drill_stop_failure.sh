#!/usr/bin/env bash
# A drill whose scratch server pg_ctl cannot stop: the postmaster is stopped by its pid before the
# scratch directory is removed (no server left running on deleted files), and the drill record
# (and output) says what happened.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY)"
q "INSERT INTO t SELECT g FROM generate_series(1, 100) g"
backup_json
switch_wal_and_wait

# Server programs whose pg_ctl refuses to stop anything.
BIN="$T/pgbin"
mkdir -p "$BIN"
for program in "$PGBIN"/*; do ln -s "$program" "$BIN/$(basename "$program")"; done
rm "$BIN/pg_ctl"
# It notes the data directory of every server it starts, so the test can find that postmaster.
cat >"$BIN/pg_ctl" <<EOS
#!/bin/sh
for arg in "\$@"; do
    if [ "\$arg" = stop ]; then echo "pg_ctl: refusing to stop (test)" >&2; exit 1; fi
done
previous=
for arg in "\$@"; do
    if [ "\$previous" = -D ]; then echo "\$arg" >>"$T/started-dirs"; fi
    previous=\$arg
done
exec "$PGBIN/pg_ctl" "\$@"
EOS
chmod 755 "$BIN/pg_ctl"
if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER": "$BIN"; fi

# Postmasters still running on a data directory the drills started (ps shows "-D DIR").
surviving_postmasters() {
    local dir
    [ -f "$T/started-dirs" ] || return 0
    while read -r dir; do pgrep -f -- "-D $dir\$" || pgrep -f -- "-D $dir " || true; done \
        <"$T/started-dirs"
}

# Fails (after stopping them, by pid) when any such postmaster still runs.
no_survivors() {
    local survivors pid
    survivors=$(surviving_postmasters)
    [ -z "$survivors" ] && return 0
    for pid in $survivors; do ps -o pid,args -p "$pid" >&2 || true; kill -QUIT "$pid" || true; done
    fail "a drill's postmaster is still running (its directory was removed under it)"
}

expect_exit 0 lb drill --repo "$REPO" --latest --pg-bin "$BIN" --json
expect_eq "$(jq -r .passed "$OUT")" true "the drill itself passed"
[ -s "$T/started-dirs" ] || fail "the drill started no server through the wrapper"
no_survivors
while read -r dir; do
    [ ! -e "$dir" ] || fail "the drill's data directory $dir was not removed"
done <"$T/started-dirs"
STOP_ERROR=$(jq -r .stop_error "$OUT")
[[ "$STOP_ERROR" == *"pg_ctl stop"*"refusing to stop"* ]] ||
    fail "the record does not say pg_ctl stop failed: '$STOP_ERROR'"
[[ "$STOP_ERROR" == *"SIGQUIT"* ]] || fail "the record does not say how it was stopped: '$STOP_ERROR'"
ID=$(jq -r .id "$OUT")

# The stored record says it too.
expect_exit 0 lb drills --repo "$REPO" --json
jq -e --arg id "$ID" '.[] | select(.id == $id) | .stop_error | test("refusing to stop")' "$OUT" \
    >/dev/null || fail "the stored drill record lacks stop_error"
expect_exit 0 lb drill --repo "$REPO" --latest --pg-bin "$BIN"
expect_in "$OUT" "^  stop +pg_ctl stop" "the human output names the stop failure"
no_survivors
finish
