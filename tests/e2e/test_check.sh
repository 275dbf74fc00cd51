#!/usr/bin/env bash
# lifeboat check: forces a WAL switch and waits for the segment in every repository wal-push
# archives into; reports pg_stat_archiver; exits 10 with a plain reason when archiving is broken
# (a failing archive_command, a repository archive_command does not reach, an empty
# archive_command, archive_mode off). `info` is an alias of `list`.
source "$(dirname "$0")/lib.sh" "$@"

# The logging collector makes the server log readable through SQL, so that check can quote the
# reason a failed wal-push gave.
lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
printf "logging_collector = on\nlog_directory = 'log'\n" >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE t (id int)"

set_archive_command() {
    q "ALTER SYSTEM SET archive_command = \$\$$1\$\$"
    q "SELECT pg_reload_conf()" >/dev/null
    # The archiver picks the new command up on its next cycle; the reload is asynchronous.
    sleep 1
}

# ---- healthy: exit 0, the segment named, and it is in the repository
expect_exit 0 lb check --repo "$REPO" --pg "$CONNINFO"
expect_in "$OUT" "^switched WAL +segment [0-9A-F]{24}" "check should name the segment it switched to"
expect_in "$OUT" "archiving works"
SEG=$(sed -n 's/^switched WAL *segment \([0-9A-F]\{24\}\).*/\1/p' "$OUT")
expect_in "$OUT" "repository +$REPO: has $SEG"
expect_in "$OUT" "^archiver +[0-9]+ archived \(last [0-9A-F]{24}"
ok "healthy source: $(tr '\n' '|' <"$OUT")"

# Again at once, on an idle server: it must still switch to (and wait for) a new segment.
expect_exit 0 lb check --repo "$REPO" --pg "$CONNINFO" --json
jq -e '.ok == true and .problem == null and (.repositories | length) == 1 and
       .repositories[0].arrived == true and .archiver.archived_count > 0' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "check --json does not report a healthy archive"; }
SEG2=$(jq -r .segment "$OUT")
[[ "$SEG2" > "$SEG" ]] || fail "a second check on an idle server did not switch to a new segment ($SEG, then $SEG2)"
expect_exit 0 lb wal-fetch --repo "$REPO" "$SEG2" "$T/fetched-segment"
ok "check on an idle server switches again: $SEG2 is archived"

backup_json
ok "backup $BACKUP_ID"

# ---- info is list
expect_exit 0 lb list --repo "$REPO"
cp "$OUT" "$T/list.out"
expect_exit 0 lb info --repo "$REPO"
diff "$T/list.out" "$OUT" >&2 || fail "info does not print what list prints"
expect_exit 0 lb info --repo "$REPO" --json
jq -e '.window' "$OUT" >/dev/null || fail "info --json is not list --json"
ok "info is an alias of list"

# ---- a second repository with archive = true that archive_command does not reach
WEST="$T/west"
lb repo-init --repo "$WEST" >/dev/null
CFG="$T/lifeboat.toml"
cat >"$CFG" <<EOF
[repositories.primary]
path = "$REPO"
archive = true

[repositories.west]
path = "$WEST"
archive = true
EOF
chmod 644 "$CFG"
expect_exit 10 lb check --config "$CFG" --pg "$CONNINFO" --json
expect_one_line_error
expect_in "$ERR" "not in repository 'west'" "check should name the repository the segment did not reach"
expect_in "$ERR" "--config" "check should say how to archive into every repository"
jq -e '.ok == false and .repositories[0].arrived == true and .repositories[1].arrived == false' \
    "$OUT" >/dev/null || { cat "$OUT" >&2; fail "check --json should show which repository has the segment"; }
ok "a repository archive_command does not reach (10): $(cat "$ERR")"

set_archive_command "'$LB' wal-push %p --config '$CFG'"
expect_exit 0 lb check --config "$CFG" --pg "$CONNINFO"
expect_in "$OUT" "repository +primary $REPO: has"
expect_in "$OUT" "repository +west $WEST: has"
ok "with wal-push --config the segment reaches both repositories"

# ---- a failing archive_command
set_archive_command "'$LB' wal-push %p --repo '$T/wrong-repo'"
expect_exit 10 lb check --repo "$REPO" --pg "$CONNINFO" --json --timeout 60
expect_one_line_error
SEG3=$(jq -r .segment "$OUT")
expect_in "$ERR" "archive_command is failing" "check should say archive_command fails"
expect_in "$ERR" "pg_stat_archiver's last failure is $SEG3 at " "check should quote pg_stat_archiver's last failure"
expect_in "$ERR" "the server log says: lifeboat: error: .*wrong-repo.*\(archive command failed with exit code 4\)" \
    "check should quote the reason wal-push gave in the server log"
jq -e --arg s "$SEG3" '.archiver.failed_count > 0 and .archiver.last_failed_wal == $s and
                       .repositories[0].arrived == false' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "check --json should report the archiver's failure"; }
ok "failing archive_command (10): $(cat "$ERR")"

# ---- an archive_command that hangs: no failure yet, the segment does not arrive in time
set_archive_command "sleep 10; exit 1"
expect_exit 10 lb check --repo "$REPO" --pg "$CONNINFO" --timeout 2
expect_one_line_error
expect_in "$ERR" "did not reach repository $REPO within 2 s" "check should give up after --timeout"
expect_in "$ERR" "no failure since the switch" "check should say the archiver reported no failure"
ok "a hanging archive_command (10): $(cat "$ERR")"

# Repaired: the archiver catches up and check passes again.
set_archive_command "'$LB' wal-push %p --repo '$REPO'"
expect_exit 0 lb check --repo "$REPO" --pg "$CONNINFO" --timeout 120
ok "after the repair check passes: $(grep '^archiver' "$OUT")"

# ---- an account that may not switch WAL: a database error saying what it needs
q "CREATE ROLE plain LOGIN"
expect_exit 8 lb check --repo "$REPO" --pg "host=$T port=$SRC_PORT user=plain dbname=postgres"
expect_one_line_error
expect_in "$ERR" "superuser" "check should say which privileges it needs"
ok "an account without the privileges (8): $(cat "$ERR")"

# ---- archiving not configured
set_archive_command ""
expect_exit 10 lb check --repo "$REPO" --pg "$CONNINFO"
expect_one_line_error
expect_in "$ERR" "archive_command is empty"
expect_in "$ERR" "wal-push %p --repo $REPO"
ok "empty archive_command (10): $(cat "$ERR")"

q "ALTER SYSTEM SET archive_mode = off"
stop_server "$SRC"
start_server "$SRC"
expect_exit 10 lb check --repo "$REPO" --pg "$CONNINFO"
expect_one_line_error
expect_in "$ERR" "archive_mode is off" "check should say archive_mode is off"
expect_in "$ERR" "restart" "check should say archive_mode needs a restart"
ok "archive_mode off (10): $(cat "$ERR")"

# ---- a repository that holds another cluster's backups
OTHER="$T/other"
OTHER_PORT=$(free_port)
as_pg "$PGBIN/initdb" -D "$OTHER" --auth=trust -U "$PG_USER" >"$T/initdb-other.log" 2>&1 || fail "initdb failed"
cat >>"$OTHER/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$T'
port = $OTHER_PORT
archive_mode = on
archive_command = '/bin/false'
fsync = off
EOF
start_server "$OTHER"
expect_exit 10 lb check --repo "$REPO" --pg "$(conninfo_for "$OTHER_PORT")"
expect_one_line_error
expect_in "$ERR" "holds backups of another cluster" "check should refuse a repository of another cluster"
ok "another cluster's repository (10): $(cat "$ERR")"

# ---- what stops the check itself
expect_exit 4 lb check --repo "$T/no-repo" --pg "$CONNINFO"
expect_one_line_error
expect_exit 8 lb check --repo "$REPO" --pg "host=$T port=1 user=$PG_USER dbname=postgres"
expect_one_line_error
ok "no repository (4), unreachable server (8)"

finish
