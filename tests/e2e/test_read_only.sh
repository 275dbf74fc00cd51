#!/usr/bin/env bash
# Issue 12, item 7: read-only mode. With --read-only (or LIFEBOAT_READ_ONLY, or
# repository.read_only = true in the configuration file) every command that writes to the
# repository refuses with one line and exit status 14 before touching it (the repository is
# byte-for-byte unchanged afterwards, even when it is writable), while list, verify, report and
# restore (with WAL replay through wal-fetch) work from a repository nobody may write: a copy of
# it made read-only with chmod, which is what a read-only credential amounts to.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, payload text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
backup_json
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5001, 6000) g"
switch_wal_and_wait
# The read-only repository: a copy nobody may write (the source keeps archiving into $REPO).
RO="$T/ro"
as_pg cp -a "$REPO" "$RO"
chmod -R a-w "$RO"
as_pg touch "$RO/probe" 2>/dev/null && fail "$RO is still writable"
ok "read-only copy of the repository at $RO"

# snapshot DIR: every file with its checksum, and every directory.
snapshot() { (cd "$1" && find . -printf '%y %p\n' | sort && find . -type f -exec md5sum {} + | sort); }
# No archiving into $REPO while its snapshot is compared.
q "ALTER SYSTEM SET archive_command = '/bin/false'"
q "SELECT pg_reload_conf()" >/dev/null
BEFORE=$(snapshot "$REPO")

# refuse WHAT CMD...: exit 14, one line naming read-only mode.
refuse() {
    local what=$1
    shift
    expect_exit 14 "$@"
    expect_one_line_error
    expect_in "$ERR" "read-only" "$what: the refusal names read-only mode"
}

SEGMENT=$(find "$SRC/pg_wal" -maxdepth 1 -name '0000000*' -type f | sort | head -n 1)
for repo in "$RO" "$REPO"; do
    refuse repo-init lb repo-init --repo "$T/new-repo" --read-only
    [ ! -e "$T/new-repo" ] || fail "repo-init --read-only created $T/new-repo"
    refuse backup lb backup --repo "$repo" --pg "$CONNINFO" --read-only
    refuse wal-push lb wal-push "$SEGMENT" --repo "$repo" --read-only
    refuse expire lb expire --repo "$repo" --read-only
    refuse expire-dry-run lb expire --repo "$repo" --dry-run --read-only
    refuse repair lb repair --repo "$repo" --read-only
    refuse pin lb pin "$BACKUP_ID" --repo "$repo" --read-only
    refuse unpin lb unpin "$BACKUP_ID" --repo "$repo" --read-only
    refuse drill lb drill --repo "$repo" --latest --read-only
    refuse copy lb copy --from "$repo" --to "$T/copy-target" --read-only
    refuse check lb check --repo "$repo" --pg "$CONNINFO" --read-only
    # The environment and the configuration file say the same.
    refuse backup-env as_pg env LIFEBOAT_READ_ONLY=true "$LB" backup --repo "$repo" --pg "$CONNINFO"
    printf '[repository]\npath = "%s"\nread_only = true\n' "$repo" >"$T/ro.toml"
    chmod 644 "$T/ro.toml"
    refuse backup-toml lb backup --config "$T/ro.toml" --pg "$CONNINFO"
    refuse pin-toml lb pin "$BACKUP_ID" --config "$T/ro.toml"
done
[ ! -e "$T/copy-target" ] || fail "copy --read-only created its destination"
expect_eq "$(snapshot "$REPO")" "$BEFORE" "the writable repository after every refused write"
ok "every write command refuses in read-only mode (flag, environment, file), exit 14"

# A wrong type in the file, or a wrong value in the environment, is a configuration error.
printf '[repository]\npath = "%s"\nread_only = "yes"\n' "$RO" >"$T/bad.toml"
chmod 644 "$T/bad.toml"
expect_exit 3 lb list --config "$T/bad.toml"
expect_one_line_error
expect_exit 3 as_pg env LIFEBOAT_READ_ONLY=maybe "$LB" list --repo "$RO"
expect_one_line_error
ok "read_only must be a boolean"

# Reading works from the repository nobody may write, and leaves nothing behind.
expect_exit 0 lb list --repo "$RO" --read-only --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "backups listed read-only"
expect_exit 0 lb verify --repo "$RO" --read-only --json
expect_exit 0 lb verify --config "$T/ro.toml" --json
expect_exit 0 lb report --repo "$RO" --read-only
expect_exit 0 lb drills --repo "$RO" --read-only
# The writable repository in read-only mode: verify and restore take no lock objects, so
# nothing in it changes.
expect_exit 0 lb verify --repo "$REPO" --read-only
restore_into "$T/restored-rw" --to consistent --read-only
expect_eq "$(snapshot "$REPO")" "$BEFORE" "the writable repository after read-only verify and restore"
ok "read-only verify and restore leave the repository untouched"

DATA_DIRS+=("$T/restored")
expect_exit 0 lb restore --repo "$RO" --read-only --to latest --target-dir "$T/restored" --start --json
RESTORED_CONN=$(jq -r '.conninfo // empty' "$OUT")
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM t")" 6000 "rows restored read-only"
expect_eq "$(find "$RO/locks" -type f | wc -l)" 0 "lock objects in the read-only repository"
ok "restore to latest from a read-only repository, WAL replayed"

finish
