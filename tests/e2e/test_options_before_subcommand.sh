#!/usr/bin/env bash
# Issue 11, item 6: options before the command (`lifeboat --repo R list`, as `git -C dir status`)
# mean what they mean after it. An option the command does not take is refused naming both; a
# one-value option given before and after the command is refused (give it once); repeatable ones
# (--tag) and flags add up; a value that looks like a command is a value; `--` still ends the
# options after the command and is refused before it.
source "$(dirname "$0")/lib.sh" "$@"

start_source
cat >"$T/lifeboat.toml" <<TOML
[repositories.main]
path = "$REPO"
TOML
chmod 644 "$T/lifeboat.toml"

# ---- backup with --config and --repo before the command, --pg after it
expect_exit 0 lb --config "$T/lifeboat.toml" --repo main backup --pg "$CONNINFO" --json
FIRST=$(jq -r .id "$OUT")
[ -n "$FIRST" ] && [ "$FIRST" != null ] || fail "backup printed no id"
ok "backup $FIRST with --config and --repo before the command"

# ---- the same result either way
expect_exit 0 lb list --repo "$REPO" --json
cp "$OUT" "$T/after.json"
expect_exit 0 lb --repo "$REPO" --json list
cmp -s "$OUT" "$T/after.json" || fail "--repo R --json list differs from list --repo R --json"
expect_exit 0 lb --repo="$REPO" info --json
cmp -s "$OUT" "$T/after.json" || fail "--repo=R info --json differs from list --repo R --json"
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$FIRST" "the backup listed"
ok "--repo R --json list, --repo=R info: the same JSON as list --repo R --json"

# ---- repeatable options add up across the command: --tag before and after
expect_exit 0 lb --tag purpose=test --repo "$REPO" backup --pg "$CONNINFO" --tag team=db --json
expect_eq "$(jq -c .tags "$OUT")" '{"purpose":"test","team":"db"}' "tags given before and after"
SECOND=$(jq -r .id "$OUT")
expect_exit 0 lb --tag team=db --repo "$REPO" --json list
expect_eq "$(jq -r '[.backups[].id] | join(",")' "$OUT")" "$SECOND" "list --tag before the command"
ok "--tag before and after the command: both recorded, and list filters by one before it"

# ---- a value that looks like a command is a value: a repository named "list"
expect_exit 0 lb repo-init --repo "$T/list"
expect_exit 0 lb --repo "$T/list" --json list
expect_eq "$(jq -r .repository "$OUT")" "$T/list" "--repo $T/list list"
(cd "$T" && expect_exit 0 lb --repo list list --json)
expect_eq "$(jq -r .repository "$OUT")" "$T/list" "--repo list list (relative)"
ok "--repo list list lists the repository named list"

# ---- wal-push with options before it, and -- after the command
SEG=$(q "SELECT pg_walfile_name(pg_switch_wal())")
wait_archived "$SEG"
expect_exit 0 lb --repo "$REPO" wal-push "$SRC/pg_wal/$SEG"
expect_exit 0 lb --repo "$REPO" wal-push -- "$SRC/pg_wal/$SEG"
ok "--repo R wal-push [--] FILE re-pushes $SEG identically"
expect_failure lb --repo "$REPO" wal-push -- -x
expect_one_line_error
expect_in "$ERR" "-x is not a WAL" "after --, -x is wal-push's path, not an option"
ok "-- still ends the options: $(cat "$ERR")"

# ---- refused, exit 2, one line each
expect_exit 2 lb --pg "$CONNINFO" --repo "$REPO" list
expect_one_line_error
expect_in "$ERR" "--pg is not an option of 'list' \(see lifeboat list --help\)" "--pg before list"
ok "$(cat "$ERR")"
expect_exit 2 lb --json --repo "$REPO" wal-push "$SRC/pg_wal/$SEG"
expect_one_line_error
expect_in "$ERR" "--json is not an option of 'wal-push'" "--json before wal-push"
expect_exit 2 lb --repo "$REPO" list --repo "$T/list"
expect_one_line_error
expect_in "$ERR" "--repo is given both before and after 'list': give it once" "--repo twice"
ok "$(cat "$ERR")"
expect_exit 2 lb --repo "$REPO" -- list
expect_one_line_error
expect_in "$ERR" "'--' ends the options" "-- before the command"
expect_exit 2 lb --repo "$REPO"
expect_one_line_error
expect_in "$ERR" "no command given after --repo" "options without a command"
expect_exit 2 lb --repo "$REPO" lsit
expect_one_line_error
expect_in "$ERR" "unknown command 'lsit'" "unknown command after options"
expect_exit 2 lb --bogus --repo "$REPO" list
expect_one_line_error
expect_in "$ERR" "--bogus is not an option of 'list'" "unknown option before list"
expect_exit 2 lb --repo
expect_one_line_error
expect_in "$ERR" "--repo needs a value" "--repo without a value"
ok "refusals are one line with exit 2"

# ---- help and version before the command
expect_exit 0 lb -h
expect_in "$OUT" "Usage: lifeboat \[OPTIONS\] SUBCOMMAND|Usage: lifeboat" "lifeboat -h"
expect_exit 0 lb --version
expect_in "$OUT" "^[0-9]+\.[0-9]+\.[0-9]+" "lifeboat --version"
expect_exit 0 lb -h backup
expect_in "$OUT" "Usage: lifeboat backup" "-h before backup is backup's help"
expect_exit 0 lb --repo "$REPO" --help restore
expect_in "$OUT" "Usage: lifeboat restore" "--help before restore is restore's help"
ok "-h, --version, -h backup, --repo R --help restore"

finish
