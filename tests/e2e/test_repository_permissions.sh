#!/usr/bin/env bash
# Issue 9, item 11: a repository holds a copy of the database, so its directories are 0750 and its
# files 0640 whatever the umask (pgBackRest's modes): repo-init, backup, wal-push (which runs with
# the server's umask), copy into a second repository, all under umask 000. `verify` warns about
# looser modes (text and --json) without failing, and a restored data directory is 0700.
source "$(dirname "$0")/lib.sh" "$@"

# lifeboat as the server's account, under umask 000.
lb0() { as_pg bash -c 'umask 000; exec "$@"' lb0 "$LB" "$@"; }

# expect_modes DIR: every directory 0750, every file 0640.
expect_modes() {
    local dir=$1 bad
    bad=$(find "$dir" \( -type d ! -perm 750 \) -o \( -type f ! -perm 640 \) -printf '%m %p\n')
    [ -z "$bad" ] || { echo "$bad" | head -20 >&2; fail "$dir has modes other than 0750/0640"; }
    ok "$dir: $(find "$dir" -type f | wc -l) files 0640, $(find "$dir" -type d | wc -l) directories 0750"
}

expect_exit 0 lb0 repo-init --repo "$REPO"
init_source
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE t (id int PRIMARY KEY, payload text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
expect_exit 0 lb0 backup --repo "$REPO" --pg "$CONNINFO" --json
switch_wal_and_wait
expect_modes "$REPO"
[ "$(find "$REPO/wal" -type f | wc -l)" -gt 0 ] || fail "no WAL archived"

COPY="$T/copy"
expect_exit 0 lb0 repo-init --repo "$COPY"
expect_exit 0 lb0 copy --from "$REPO" --to "$COPY" --json
[ "$(find "$COPY/backups" -type f | wc -l)" = 1 ] || fail "copy did not copy the backup"
expect_modes "$COPY"

# An empty directory made by the operator loses what goes beyond 0750.
as_pg bash -c "umask 000; mkdir -m 777 '$T/made_by_hand'"
expect_exit 0 lb0 repo-init --repo "$T/made_by_hand"
expect_modes "$T/made_by_hand"

expect_exit 0 lb verify --repo "$REPO" --json
expect_eq "$(jq -r .loose_permissions "$OUT")" 0 "loose permissions in a fresh repository"
chmod 0644 "$REPO/config"
chmod 0777 "$REPO/data"
expect_exit 0 lb verify --repo "$REPO" --json
expect_eq "$(jq -r .loose_permissions "$OUT")" 2 "loose permissions after chmod"
jq -e '.permission_warnings | map(select(test("^config is 0644"))) | length == 1' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "verify --json does not name config"; }
expect_exit 0 lb verify --repo "$REPO"
expect_in "$OUT" '^WARNING permissions: data is 0777' "verify warns about data/"
ok "verify warns about looser modes"
chmod 0640 "$REPO/config"
chmod 0750 "$REPO/data"

# A restore under umask 000 into a directory it creates: 0700, nothing for others.
DATA_DIRS+=("$T/restored/new/data")
expect_exit 0 lb0 restore --repo "$REPO" --to consistent --target-dir "$T/restored/new/data"
expect_eq "$(stat -c %a "$T/restored/new/data")" 700 "mode of the restored data directory"
open=$(find "$T/restored/new/data" ! -type l -perm /0007 -printf '%m %p\n')
[ -z "$open" ] || { echo "$open" | head >&2; fail "restored files open to other users"; }
ok "restored data directory is 0700 and closed to others"
finish
