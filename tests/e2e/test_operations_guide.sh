#!/usr/bin/env bash
# docs/operations.md cannot drift from the program: every shell block of the guide marked
#
#   <!-- test: NAME -->            run as the `postgres` account (the guide's shell)
#   <!-- test: NAME (root) -->     run as root (as the current account when not root)
#
# on the line before a ```sh fence is run, in the guide's order, against a throwaway cluster. A
# failing command fails the test, and so does a missing block (the names below), a marked block
# that is not a ```sh fence, or a ```sh block marked neither `test:` nor `untested:` (so that no
# command enters the guide without being run or without saying why not).
#
# The guide's site paths are moved into $T (the table below, checked after substitution so that
# nothing outside $T is ever touched), `pg_ctlcluster 15 main` is the throwaway source, and the
# target time of the bad DELETE is the one the test captures from the server. Variables exported
# by a postgres block (LIFEBOAT_CONFIG) carry over to the next ones, like the operator's shell.
GUIDE=$(cd "$(dirname "$0")/../.." && pwd)/docs/operations.md
source "$(dirname "$0")/lib.sh" "$@"

[ -f "$GUIDE" ] || fail "no guide at $GUIDE"

# Blocks the guide must keep (in this order), and commands they must contain between them.
REQUIRED_BLOCKS=(directories configuration archiving archiving-works backup checks-file
    verify-and-drill report second-repository-directory second-repository pre-maintenance
    retention find-the-point restore validate stop-restored region-gone)
REQUIRED_COMMANDS=(
    'lifeboat repo-init --repo primary'
    "archive_command = 'lifeboat wal-push %p --config "
    'lifeboat check'
    'lifeboat backup'
    'lifeboat list'
    'lifeboat restore --to [^ ]+ .*--start'
    'lifeboat validate --pg'
    'lifeboat verify'
    'lifeboat expire --dry-run'
    'lifeboat drill '
    'lifeboat report'
    'lifeboat repo-init --repo [^ ]*west'
    'lifeboat copy --from primary --to west'
)

# ---- extract the blocks
# extract_blocks GUIDE DIR: writes DIR/NN-NAME.sh per runnable block and DIR/index
# ("file name user line" lines); fails on a malformed marker or an unmarked ```sh block.
extract_blocks() {
    mkdir -p "$2"
    python3 - "$1" "$2" <<'EOF'
import re, sys
guide, out = sys.argv[1], sys.argv[2]
lines = open(guide, encoding="utf-8").read().split("\n")
marker = re.compile(r"^\s*<!-- (test|untested): ?(.*?) -->\s*$")
fence = re.compile(r"^(\s*)```(\S*)\s*$")
errors, blocks, i, pending = [], [], 0, None
while i < len(lines):
    m = marker.match(lines[i])
    if m:
        if pending:
            errors.append(f"line {pending[2]}: marker not followed by a ```sh block")
        pending = (m.group(1), m.group(2), i + 1)
        i += 1
        continue
    f = fence.match(lines[i])
    if f:
        indent, info = f.group(1), f.group(2)
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if info == "sh":
            if not pending:
                errors.append(f"line {start}: ```sh block marked neither <!-- test: NAME --> "
                              "nor <!-- untested: why -->")
            elif pending[0] == "test":
                spec = pending[1].split()
                name = spec[0] if spec else ""
                user = "root" if spec[1:] == ["(root)"] else "postgres"
                if not name or spec[1:] not in ([], ["(root)"]):
                    errors.append(f"line {pending[2]}: bad marker '{pending[1]}'")
                if any(b[0] == name for b in blocks):
                    errors.append(f"line {pending[2]}: block name '{name}' used twice")
                blocks.append((name, user, start, "\n".join(body) + "\n"))
        elif pending:
            errors.append(f"line {pending[2]}: marker before a ```{info} block, not ```sh")
        pending = None
        continue
    if lines[i].strip() and pending:
        errors.append(f"line {pending[2]}: marker not followed by a ```sh block")
        pending = None
    i += 1
if pending:
    errors.append(f"line {pending[2]}: marker not followed by a ```sh block")
for e in errors:
    print(f"{guide}: {e}", file=sys.stderr)
with open(f"{out}/index", "w") as idx:
    for n, (name, user, start, body) in enumerate(blocks):
        path = f"{out}/{n:02d}-{name}.sh"
        open(path, "w").write(body)
        idx.write(f"{path} {name} {user} {start}\n")
sys.exit(1 if errors else 0)
EOF
}

# check_blocks DIR: every required block present, in order, and every required command run.
check_blocks() {
    local dir=$1 name want found pos=0 re
    local names=()
    while read -r _ name _ _; do names+=("$name"); done <"$dir/index"
    for want in "${REQUIRED_BLOCKS[@]}"; do
        found=""
        while [ "$pos" -lt "${#names[@]}" ]; do
            if [ "${names[$pos]}" = "$want" ]; then found=1; pos=$((pos + 1)); break; fi
            pos=$((pos + 1))
        done
        if [ -z "$found" ]; then
            echo "docs/operations.md lost its runnable step '$want' (or moved it out of order); found: ${names[*]}" >&2
            return 1
        fi
    done
    cat "$dir"/[0-9]*.sh >"$dir/all"
    for re in "${REQUIRED_COMMANDS[@]}"; do
        if ! grep -E -q -- "$re" "$dir/all"; then
            echo "no runnable block of docs/operations.md runs /$re/" >&2
            return 1
        fi
    done
}

# The guard itself: a guide that lost a step, or gained an unmarked or badly marked block, is
# refused (each on a copy of the real guide).
guard_refuses() {
    local what=$1 copy="$T/guide-mutant.md" dir="$T/guide-mutant"
    shift
    rm -rf "$dir"
    "$@" <"$GUIDE" >"$copy"
    if extract_blocks "$copy" "$dir" 2>"$T/guard.err" && check_blocks "$dir" 2>>"$T/guard.err"; then
        fail "the guide's guard accepted a guide that $what"
    fi
    ok "a guide that $what is refused: $(tail -n 1 "$T/guard.err")"
}
guard_refuses "lost its restore step" sed -e '/<!-- test: restore -->/,/^ *```$/d'
guard_refuses "lost its copy command" sed -e 's/lifeboat copy --from primary --to west/true/'
guard_refuses "has an unmarked sh block" sed -e 's/<!-- test: report -->//'
guard_refuses "marks a block that is not sh" sed -e '/<!-- test: report -->/{n;s/```sh/```/}'

BLOCKS="$T/guide-blocks"
extract_blocks "$GUIDE" "$BLOCKS" || fail "the guide's runnable blocks are malformed (above)"
check_blocks "$BLOCKS" || fail "the guide lost a required step (above)"
mapfile -t INDEX <"$BLOCKS/index"
ok "${#INDEX[@]} runnable blocks in the guide, every required step among them"

# ---- what --help and README.md promise
expect_exit 0 lb restore --help
expect_in "$OUT" '--jobs N ' "--jobs shows an integer placeholder"
expect_in "$OUT" '--repo .*s3://' "--repo's help names S3 locations"
if grep -q 'a local directory)' "$OUT"; then fail "--repo's help still calls it a local directory"; fi
expect_exit 0 lb validate --help
expect_in "$OUT" '--pg .*instance to check' "validate --pg's help names the instance checked"
# README.md: every command but wal-push, wal-fetch and agent (a service) has --json.
expect_exit 0 lb --help
for cmd in $(sed -n '/^Subcommands:/,/^$/p' "$OUT" | awk 'NR > 1 && NF { sub(/,$/, "", $1); print $1 }'); do
    expect_exit 0 lb "$cmd" --help
    case $cmd in
    wal-push | wal-fetch | agent)
        if grep -q -- '--json' "$OUT"; then fail "$cmd has --json: README.md and docs/cli.md say it has not"; fi ;;
    *) grep -q -- '--json' "$OUT" || fail "$cmd has no --json: README.md and docs/cli.md say every command but wal-push and wal-fetch has" ;;
    esac
done
ok "--help: --jobs N, --repo names S3, validate --pg the instance to check; --json everywhere but wal-push/wal-fetch"

# ---- the site: the guide's paths, moved into $T
SITE="$T/site"
mkdir -p "$SITE/srv" "$SITE/etc" "$SITE/var/run/postgresql" "$SITE/var/lib/postgresql/15" "$SITE/home"
chmod 755 "$SITE" "$SITE/srv" "$SITE/etc" "$SITE/var" "$SITE/var/run" "$SITE/var/lib"
chmod 1777 "$SITE/var/run/postgresql"
if [ "$(id -u)" = 0 ]; then
    # Only the directories postgres owns on Debian; /srv and /etc stay root's, as on a real host.
    chown "$PG_USER": "$SITE/var/lib/postgresql" "$SITE/var/lib/postgresql/15" "$SITE/home"
fi
SOCKET="$SITE/var/run/postgresql"
PGDATA_SRC="$SITE/var/lib/postgresql/15/main"
RESTORED="$SITE/var/lib/postgresql/15/restored"
SRC_PORT=$(free_port)
NEW_PORT=$(free_port)
[ "$NEW_PORT" != "$SRC_PORT" ] || NEW_PORT=$(free_port)
# The time the guide's restore example uses; replaced by the one captured before the bad DELETE.
GUIDE_TARGET='2026-11-26T02:41:59Z'
TARGET=""

substitute() {
    sed -e "s#/srv/#$SITE/srv/#g" \
        -e "s#/etc/lifeboat#$SITE/etc/lifeboat#g" \
        -e "s#/var/run/postgresql#$SOCKET#g" \
        -e "s#/var/lib/postgresql/15/#$SITE/var/lib/postgresql/15/#g" \
        -e "s#/usr/lib/postgresql/15/bin/#$PGBIN/#g" \
        -e "s#\\b5432\\b#$SRC_PORT#g" \
        -e "s#\\b5433\\b#$NEW_PORT#g" \
        -e "s#$GUIDE_TARGET#${TARGET:-$GUIDE_TARGET}#g"
}

# The source: Debian's `15 main`, stand-in. Its configuration is the site's (socket, port); the
# guide turns archiving on.
as_pg "$PGBIN/initdb" -D "$PGDATA_SRC" --data-checksums --auth=trust -U "$PG_USER" >"$T/initdb.log" 2>&1 ||
    { cat "$T/initdb.log" >&2; fail "initdb failed"; }
cat >>"$PGDATA_SRC/postgresql.conf" <<EOF

# added by test_operations_guide.sh: the site
listen_addresses = ''
unix_socket_directories = '$SOCKET'
port = $SRC_PORT
fsync = off
EOF
# The server runs with a bare environment: it must not see the operator's LIFEBOAT_CONFIG, and
# `lifeboat` is found on its PATH as in /usr/local/bin.
SERVER_ENV=(env -i "PATH=$T/bin:/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8")
DATA_DIRS+=("$PGDATA_SRC" "$RESTORED")
as_pg "${SERVER_ENV[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_SRC" -l "$PGDATA_SRC.log" -w -t 60 start >/dev/null ||
    { tail -n 20 "$PGDATA_SRC.log" >&2; fail "cannot start the source"; }
CONNINFO="host=$SOCKET port=$SRC_PORT user=$PG_USER dbname=postgres"
APP="host=$SOCKET port=$SRC_PORT user=$PG_USER dbname=app"

# The application the guide's examples protect.
q "CREATE DATABASE app" >/dev/null
psql_on "$APP" "CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), note text)"
psql_on "$APP" "INSERT INTO orders (note) SELECT 'order ' || g FROM generate_series(1, 5000) g"

# ---- running one block
STATE="$T/guide-shell-state"
: >"$STATE"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$STATE"; fi
PRELUDE="$T/guide-prelude.sh"
cat >"$PRELUDE" <<EOF
set -euo pipefail
export PATH="$T/bin:\$PATH"
export PGHOST="$SOCKET" PGPORT="$SRC_PORT"
export HOME="$SITE/home"
cd "$SITE/home" 2>/dev/null || cd "$T"
# Debian's cluster wrapper, for the throwaway source.
pg_ctlcluster() {
    [ "\$1 \$2" = "15 main" ] || { echo "pg_ctlcluster: only 15 main here" >&2; return 1; }
    ${SERVER_ENV[*]@Q} "$PGBIN/pg_ctl" -D "$PGDATA_SRC" -l "$PGDATA_SRC.log" -w -t 60 "\$3" >/dev/null
}
EOF
chmod 644 "$PRELUDE"

run_block() {
    local file=$1 name=$2 user=$3 line=$4
    local script="$BLOCKS/run-$name.sh"
    {
        echo "source '$PRELUDE'"
        if [ "$user" = postgres ]; then echo "source '$STATE'"; fi
        substitute <"$file"
        if [ "$user" = postgres ]; then echo "export -p >'$STATE'"; fi
    } >"$script"
    chmod 644 "$script"
    # Nothing may escape $T: every site path must have been moved.
    if grep -E -n '(^|[^A-Za-z0-9_.-])/(srv|etc|var/run|var/lib)/' "$script" | grep -v "^[0-9]*:source '" >&2; then
        fail "block '$name' (docs/operations.md line $line) names a path outside the substituted site (above): add it to the test's table"
    fi
    log "block '$name' (line $line, as $user):"
    sed -e 's/^/    | /' "$file"
    local rc=0
    if [ "$user" = root ] || [ "$(id -u)" != 0 ]; then
        bash "$script" >"$T/block.out" 2>&1 || rc=$?
    else
        as_pg bash "$script" >"$T/block.out" 2>&1 || rc=$?
    fi
    sed -e 's/^/    > /' "$T/block.out"
    [ "$rc" = 0 ] || fail "docs/operations.md, block '$name' (line $line) failed with status $rc (output above)"
}

# ---- what the test checks around the blocks
after_block() {
    case $1 in
    archiving-works)
        # The guide's `sleep 5` is for a person; a loaded test machine may need longer.
        local archived=0
        for _ in $(seq 1 600); do
            archived=$(q "SELECT archived_count FROM pg_stat_archiver")
            [ "$archived" -ge 1 ] && break
            sleep 0.1
        done
        [ "$archived" -ge 1 ] || fail "nothing archived after the guide's archiving steps"
        expect_eq "$(q "SELECT failed_count FROM pg_stat_archiver")" 0 "archiver failures after the guide's set-up"
        ;;
    backup)
        expect_exit 0 lb list --repo "$SITE/srv/lifeboat" --json
        jq -e '.backups | length == 1' "$OUT" >/dev/null || fail "the guide's backup step recorded no backup"
        ;;
    verify-and-drill)
        expect_exit 0 lb drills --repo "$SITE/srv/lifeboat" --json
        jq -e 'length >= 1' "$OUT" >/dev/null || fail "the guide's drill recorded nothing"
        ;;
    second-repository)
        # archive_command (from the server's bare environment) now stores WAL in both.
        local seg
        seg=$(q "SELECT pg_walfile_name(pg_switch_wal())")
        wait_archived "$seg"
        expect_exit 0 lb list --repo "$SITE/srv/lifeboat-west" --key-file "$SITE/etc/lifeboat/west.key" --json
        jq -e '.backups | length == 1' "$OUT" >/dev/null || fail "copy did not bring the backup to west"
        ls "$SITE/srv/lifeboat-west/wal"/*/"$seg"* >/dev/null 2>&1 ||
            find "$SITE/srv/lifeboat-west" -name "$seg*" | grep -q . ||
            fail "segment $seg did not reach west through archive_command"
        ;;
    pre-maintenance)
        expect_exit 0 lb list --repo "$SITE/srv/lifeboat-west" --key-file "$SITE/etc/lifeboat/west.key" --json
        jq -e '.backups | length == 2' "$OUT" >/dev/null || fail "copy_after_backup did not copy the pinned backup to west"
        ;;
    stop-restored)
        # What the guide says about the new instance's port and socket (docs/cli.md, "The
        # restored instance"): without --start and --port no port is written (the source's
        # stays); with --start alone a free one is chosen, written and printed.
        local plain="$SITE/var/lib/postgresql/15/plain" auto="$SITE/var/lib/postgresql/15/auto" port
        DATA_DIRS+=("$plain" "$auto")
        expect_exit 0 lb restore --repo "$SITE/srv/lifeboat" --to latest --target-dir "$plain"
        if grep -E -q '^port' "$plain/postgresql.auto.conf"; then
            fail "restore without --start and --port wrote a port: $(grep -E '^port' "$plain/postgresql.auto.conf")"
        fi
        expect_in "$OUT" "start it with" "restore without --start says how to start it"
        expect_exit 0 lb restore --repo "$SITE/srv/lifeboat" --to latest --target-dir "$auto" --start --json
        port=$(jq -r .port "$OUT")
        [ -n "$port" ] && [ "$port" != null ] && [ "$port" != "$SRC_PORT" ] || fail "restore --start without --port chose no port of its own: $(cat "$OUT")"
        expect_in "$auto/postgresql.auto.conf" "^port = $port\$" "the chosen port is written into postgresql.auto.conf"
        [ -S "$SOCKET/.s.PGSQL.$port" ] || fail "the restored instance's socket is not in the source's socket directory"
        stop_server "$auto"
        ok "restore without --port: none written without --start, free port $port chosen with it, socket in the source's directory"
        ;;
    restore)
        local rows
        rows=$(psql_on "host=$SOCKET port=$NEW_PORT user=$PG_USER dbname=app" "SELECT count(*) FROM orders")
        expect_eq "$rows" "$ROWS_BEFORE_DELETE" "rows in the restored instance (the bad DELETE undone)"
        ;;
    esac
}

before_block() {
    case $1 in
    find-the-point)
        # The incident: more orders, the moment before it, then a bad DELETE.
        psql_on "$APP" "INSERT INTO orders (note) SELECT 'late order ' || g FROM generate_series(1, 1800) g"
        ROWS_BEFORE_DELETE=$(psql_on "$APP" "SELECT count(*) FROM orders")
        TARGET=$(psql_on "$APP" "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        sleep 1.2
        psql_on "$APP" "DELETE FROM orders WHERE note LIKE 'late order %'"
        switch_wal_and_wait
        log "bad DELETE after $TARGET ($ROWS_BEFORE_DELETE rows before it)"
        ;;
    esac
}

for entry in "${INDEX[@]}"; do
    read -r file name user line <<<"$entry"
    before_block "$name"
    run_block "$file" "$name" "$user" "$line"
    after_block "$name"
done
ok "every runnable step of docs/operations.md works"
finish
