#!/usr/bin/env bash
# Issue 9, item 14 (file-system exceptions): a restore whose target lies below a directory the
# account may not enter used to abort on an uncaught std::filesystem::filesystem_error, leaving a
# stale lock. Now: exit 11 with one line naming the path, no lock left behind, and the next
# command runs normally.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY)"
q "INSERT INTO t SELECT generate_series(1, 100)"
backup_json

# A directory the server's account may not enter (owned by root when the test runs as root).
mkdir "$T/locked"
chmod 000 "$T/locked"
for target in "$T/locked/data" "$T/locked/deeper/data"; do
    expect_exit 11 lb restore --repo "$REPO" --to consistent --target-dir "$target"
    expect_one_line_error
    expect_in "$ERR" "$T/locked" "the error names the path"
    leftover=$(ls -A "$REPO/locks")
    [ -z "$leftover" ] || fail "restore left a lock behind: $leftover"
    ok "refused: $(cat "$ERR")"
done
chmod 755 "$T/locked"

# A tablespace-less target whose parent is a file.
as_pg touch "$T/plainfile"
expect_exit 11 lb restore --repo "$REPO" --to consistent --target-dir "$T/plainfile/data"
expect_one_line_error
[ -z "$(ls -A "$REPO/locks")" ] || fail "restore left a lock behind"
ok "refused: $(cat "$ERR")"

restore_into "$T/ok" --to consistent
ok "the next restore works"
finish
