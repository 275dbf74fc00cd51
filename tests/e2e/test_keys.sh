#!/usr/bin/env bash
# Keys (issue 9, item 12): repo-init with a key but without --encrypt, a key file for a plaintext
# repository, a key file readable by others, a short passphrase and a key file plus a passphrase
# are refused with one line naming the repository. A per-repository key_file in the
# configuration is honoured by every command, including the server's wal-push and the restored
# instance's wal-fetch.
source "$(dirname "$0")/lib.sh" "$@"

KEY="$T/key"
head -c 32 /dev/urandom >"$KEY"
chmod 600 "$KEY"
OPEN_KEY="$T/open-key"
head -c 32 /dev/urandom >"$OPEN_KEY"
chmod 644 "$OPEN_KEY"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$KEY" "$OPEN_KEY"; fi
PLAIN="$T/plain"
expect_exit 0 lb repo-init --repo "$PLAIN"

# 1. A key without --encrypt made a plaintext repository without a word.
expect_exit 2 lb repo-init --repo "$T/r1" --key-file "$KEY"
expect_one_line_error
expect_in "$ERR" "add --encrypt"
expect_in "$ERR" "$T/r1"
[ ! -e "$T/r1" ] || fail "a refused repo-init left $T/r1 behind"
expect_exit 2 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" repo-init --repo "$T/r1"
expect_one_line_error
[ ! -e "$T/r1" ] || fail "a refused repo-init left $T/r1 behind"
ok "repo-init with a key but without --encrypt is refused"

# 2. A key file readable by others, a short passphrase, a key file and a passphrase at once.
expect_exit 2 lb repo-init --repo "$T/r2" --encrypt --key-file "$OPEN_KEY"
expect_one_line_error
expect_in "$ERR" "permissions 0644 on key file $OPEN_KEY are too open"
expect_in "$ERR" "repository $T/r2"
[ ! -e "$T/r2/data" ] || fail "a refused repo-init left a half-made repository"
expect_exit 2 env LIFEBOAT_PASSPHRASE=x "$LB" repo-init --repo "$T/r3" --encrypt
expect_one_line_error
expect_in "$ERR" "at least 12"
expect_exit 2 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" repo-init --repo "$T/r4" \
    --encrypt --key-file "$KEY"
expect_one_line_error
expect_in "$ERR" "both a key file"
expect_exit 0 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" repo-init --repo "$T/r5" --encrypt
ok "open key files, short passphrases and two keys at once are refused"

# 3. A key file given for a plaintext repository was ignored.
expect_exit 2 lb list --repo "$PLAIN" --key-file "$KEY"
expect_one_line_error
expect_in "$ERR" "$PLAIN is not encrypted"
ok "a key file for a plaintext repository is refused"

# 4. A per-repository key_file, honoured everywhere: the server archives through the file.
CONF="$T/lifeboat.toml"
cat >"$CONF" <<EOC
[repositories.vault]
path = "$REPO"
key_file = "$KEY"
EOC
chmod 644 "$CONF"
expect_exit 0 lb repo-init --config "$CONF" --repo vault --encrypt
init_source
sed -i "s|wal-push %p --repo ''$REPO''|wal-push %p --config ''$CONF''|" "$SRC/postgresql.conf"
grep -q -- "--config" "$SRC/postgresql.conf" || fail "archive_command not rewritten"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE secrets (id int PRIMARY KEY, v text)"
q "INSERT INTO secrets SELECT g, md5(g::text) FROM generate_series(1, 1000) g"
expect_exit 0 lb backup --config "$CONF" --pg "$CONNINFO" --json
q "INSERT INTO secrets SELECT g, md5(g::text) FROM generate_series(1001, 1500) g"
switch_wal_and_wait
expect_exit 0 lb list --config "$CONF" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "backups listed with the configured key"
expect_exit 0 lb verify --config "$CONF"
expect_exit 0 lb report --config "$CONF" --format json
expect_exit 0 lb drills --config "$CONF"
expect_exit 0 lb expire --config "$CONF" --dry-run
PORT=$(free_port)
DATA_DIRS+=("$T/restored")
expect_exit 0 lb restore --config "$CONF" --to latest --target-dir "$T/restored" --start --port "$PORT" --json
RESTORED_CONN=$(jq -r .conninfo "$OUT")
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT count(*) FROM secrets")" 1500 "rows restored through the configured key"
stop_server "$T/restored"
ok "a per-repository key_file is honoured by wal-push, backup, list, verify, report, drills, expire and restore"

# A repository's own key_file is unambiguous even with a passphrase in the environment (for
# another repository); a general key file beside a passphrase is not.
expect_exit 0 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" list --config "$CONF"
expect_exit 0 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" list --repo "$T/r5"
expect_exit 2 env LIFEBOAT_PASSPHRASE="a long enough passphrase" "$LB" list --repo "$REPO" --key-file "$KEY"
expect_one_line_error
expect_in "$ERR" "repository $REPO: both a key file"
ok "a key file and a passphrase for the same repository are refused"

# 5. Every key error names the repository.
expect_exit 2 lb list --repo "$REPO"
expect_one_line_error
expect_in "$ERR" "repository $REPO is encrypted"
chmod 640 "$KEY"
expect_exit 2 lb list --config "$CONF"
expect_one_line_error
expect_in "$ERR" "repository $REPO: permissions 0640"
chmod 600 "$KEY"
WRONG="$T/wrong-key"
head -c 32 /dev/urandom >"$WRONG"
chmod 600 "$WRONG"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$WRONG"; fi
sed -i "s|^key_file = .*|key_file = \"$WRONG\"|" "$CONF"
expect_exit 6 lb list --config "$CONF"
expect_one_line_error
expect_in "$ERR" "wrong key for encrypted repository $REPO"
ok "key errors name the repository"
finish
