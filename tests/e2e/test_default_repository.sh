#!/usr/bin/env bash
# The default repository (issue 9, item 5): with [repositories.zeta] listed before
# [repositories.alpha], a command without --repo uses zeta, the first one in the file (it used
# alpha, the first by name, so adding a repository could silently move backups elsewhere);
# `default_repository` chooses explicitly. Every command names the repository it used.
source "$(dirname "$0")/lib.sh" "$@"

ALPHA="$T/alpha"
CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOC
[repositories.zeta]
path = "$REPO"

[repositories.alpha]
path = "$ALPHA"
EOC
chmod 644 "$CONF"
start_source
expect_exit 0 lb repo-init --repo "$ALPHA"
q "CREATE TABLE t (id int)"

expect_exit 0 lb list --config "$CONF" --json
expect_eq "$(jq -r .repository "$OUT")" "$REPO" "repository used without --repo"
expect_eq "$(jq -r .repository_name "$OUT")" zeta "repository name used without --repo"
expect_exit 0 lb list --config "$CONF"
expect_in "$OUT" "^repository zeta \\($REPO\\)"

# A backup without --repo lands in zeta and says so.
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
expect_eq "$(jq -r .repository "$OUT")" "$REPO" "repository of the backup"
expect_eq "$(jq -r .repository_name "$OUT")" zeta "repository name of the backup"
ID=$(jq -r .id "$OUT")
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO"
expect_in "$ERR" "in repository zeta \\($REPO\\)"
expect_exit 0 lb list --repo "$ALPHA" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 0 "backups that went to alpha"
ok "without --repo, the first repository in the file is used"

# The other commands name it too (text and JSON).
expect_exit 0 lb pin --config "$CONF" "$ID"
expect_in "$OUT" "in repository zeta"
expect_exit 0 lb pin --config "$CONF" "$ID" --json
expect_eq "$(jq -r .repository_name "$OUT")" zeta "pin --json repository"
expect_exit 0 lb verify --config "$CONF" --json
expect_eq "$(jq -r .repository_name "$OUT")" zeta "verify --json repository"
expect_exit 0 lb verify --config "$CONF"
expect_in "$OUT" "^repository zeta"
expect_exit 0 lb expire --config "$CONF" --dry-run
expect_in "$OUT" "^repository zeta"
expect_exit 0 lb expire --config "$CONF" --dry-run --json
expect_eq "$(jq -r .repository_name "$OUT")" zeta "expire --json repository"
expect_exit 0 lb drills --config "$CONF"
expect_in "$OUT" "^repository zeta"
expect_exit 0 lb drills --config "$CONF" --json
expect_in "$ERR" "repository zeta"
DATA_DIRS+=("$T/r")
expect_exit 0 lb restore --config "$CONF" --to consistent --target-dir "$T/r" --json
expect_eq "$(jq -r .repository_name "$OUT")" zeta "restore --json repository"
ok "commands name the repository they used"

# default_repository chooses explicitly; --repo still wins; an unknown name is refused.
sed -i '1i default_repository = "alpha"' "$CONF"
expect_exit 0 lb list --config "$CONF" --json
expect_eq "$(jq -r .repository_name "$OUT")" alpha "with default_repository = alpha"
expect_exit 0 lb list --config "$CONF" --repo zeta --json
expect_eq "$(jq -r .repository_name "$OUT")" zeta "--repo zeta over default_repository"
sed -i '1s/.*/default_repository = "nowhere"/' "$CONF"
expect_exit 3 lb list --config "$CONF"
expect_one_line_error
expect_in "$ERR" "nowhere"
sed -i '1s/.*/default_repository = 1/' "$CONF"
expect_exit 3 lb list --config "$CONF"
expect_one_line_error
ok "default_repository"
finish
