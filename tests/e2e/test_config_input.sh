#!/usr/bin/env bash
# Configuration input (issue 9, item 14, in part): --jobs is bounded (1000000 died of bad_alloc),
# --config naming a directory or an unreadable file is an error (a directory was read as an
# empty file), and TOML values of the wrong type are refused with the key's name (jobs = true
# became 1, jobs = "4" became 4) as docs/configuration.md says. Each is one line, exit 2 or 3.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int)"
backup_json

# --jobs, from the flag, the environment and the file.
expect_exit 2 lb backup --repo "$REPO" --pg "$CONNINFO" --jobs 1000000
expect_one_line_error
expect_in "$ERR" "at most 256"
expect_exit 2 lb restore --repo "$REPO" --to latest --target-dir "$T/never" --jobs 1000000
expect_one_line_error
expect_exit 2 lb verify --repo "$REPO" --jobs 1000000
expect_one_line_error
[ ! -e "$T/never" ] || fail "restore with too many jobs created its target"
expect_exit 2 env LIFEBOAT_JOBS=1000000 "$LB" verify --repo "$REPO"
expect_one_line_error
expect_exit 2 lb verify --repo "$REPO" --jobs 99999999999999999999
expect_one_line_error
expect_exit 0 lb verify --repo "$REPO" --jobs 256
CONF="$T/lifeboat.toml"
printf '[performance]\njobs = 1000000\n' >"$CONF"
chmod 644 "$CONF"
expect_exit 2 lb verify --repo "$REPO" --config "$CONF"
expect_one_line_error
ok "--jobs above 256 is refused"

# --config naming a directory, a missing file, an unreadable file.
mkdir -p "$T/confdir"
expect_exit 3 lb list --repo "$REPO" --config "$T/confdir"
expect_one_line_error
expect_in "$ERR" "is a directory"
expect_exit 3 env LIFEBOAT_CONFIG="$T/confdir" "$LB" list --repo "$REPO"
expect_one_line_error
expect_exit 3 lb list --repo "$REPO" --config "$T/missing.toml"
expect_one_line_error
printf '[performance]\njobs = 2\n' >"$T/secret.toml"
chmod 600 "$T/secret.toml"
chown root: "$T/secret.toml" 2>/dev/null || true
if [ "$(id -u)" = 0 ]; then
    expect_exit 3 lb list --repo "$REPO" --config "$T/secret.toml"
    expect_one_line_error
    expect_in "$ERR" "cannot read configuration file"
fi
ok "--config naming a directory, a missing or an unreadable file is refused"

# Wrong TOML types, each named by its key.
check_refused() {  # TOML-text KEY
    printf '%b\n' "$1" >"$CONF"
    expect_exit 3 lb list --repo "$REPO" --config "$CONF"
    expect_one_line_error
    expect_in "$ERR" "$2" "the error names $2"
}
check_refused '[performance]\njobs = true' "performance.jobs"
check_refused '[performance]\njobs = "4"' "performance.jobs"
check_refused '[performance]\njobs = 4.0' "performance.jobs"
check_refused '[performance]\njobs = [4]' "performance.jobs"
check_refused '[backup]\narchive_timeout = "600"' "backup.archive_timeout"
check_refused '[source]\npg = { host = "x" }' "source.pg"
check_refused '[source]\npgdata = 5' "source.pgdata"
check_refused '[retention]\nwindow = 7' "retention.window"
check_refused '[retention]\ndaily = "7"' "retention.daily"
check_refused '[retention]\nmin_backups = false' "retention.min_backups"
check_refused "[repositories.a]\npath = \"$REPO\"\narchive = 1" "repositories.a.archive"
check_refused "[repositories.a]\npath = \"$REPO\"\ncopy_after_backup = \"yes\"" "repositories.a.copy_after_backup"
check_refused "[repositories.a]\npath = \"$REPO\"\n[repositories.a.retention]\nwindow = true" "repositories.a.retention.window"
# The right types are accepted.
printf '[performance]\njobs = 4\n[retention]\nwindow = "7d"\ndaily = 7\n[backup]\narchive_timeout = 600\n' >"$CONF"
expect_exit 0 lb list --repo "$REPO" --config "$CONF"
printf '[retention]\nwindow = 0\n' >"$CONF"
expect_exit 0 lb expire --repo "$REPO" --config "$CONF" --dry-run
ok "TOML values of the wrong type are refused with the key's name"
finish
