# Shared helpers for Lifeboat's end-to-end tests. Source it from a test script:
#
#   source "$(dirname "$0")/lib.sh" "$@"     # $1 = absolute path of the lifeboat binary
#
# It creates a private directory $T (mktemp -d /tmp/lbe2e.XXXXXX) holding a copy of the binary
# ($LB), the source cluster ($T/src), the repository ($T/repo) and any restored instance, and an
# EXIT trap that stops every server the test started and removes $T (unless KEEP=1).
#
# PostgreSQL refuses to run as root, and the server's archive_command runs lifeboat as the
# server's account, so when the tests run as root every PostgreSQL and lifeboat command runs as
# the `postgres` account (as_pg) and $T belongs to it.

set -euo pipefail
# libmongoc's counters in plain memory, never a /dev/shm segment (scripts/test.sh says why).
export MONGOC_DISABLE_SHM=1

LB_SOURCE_BINARY=${1:-}
if [ -z "$LB_SOURCE_BINARY" ] || [ ! -x "$LB_SOURCE_BINARY" ]; then
    echo "usage: bash $0 /abs/path/to/lifeboat" >&2
    exit 2
fi

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
LB_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)"
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # this directory: the tests' helper scripts
PG_USER=postgres
TEST_NAME=$(basename "$0" .sh)
TEST_STARTED=$(date +%s)

T=$(mktemp -d /tmp/lbe2e.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/bin"
cp "$LB_SOURCE_BINARY" "$T/bin/lifeboat"
chmod 755 "$T/bin/lifeboat"
LB="$T/bin/lifeboat"
REPO="$T/repo"
SRC="$T/src"
if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER": "$T"; fi
cd "$T"

# Data directories of servers this test may have started, and background processes.
DATA_DIRS=()
BG_PIDS=()

log() { echo "[$TEST_NAME +$(( $(date +%s) - TEST_STARTED ))s] $*"; }
ok() { log "ok: $*"; }
fail() {
    echo "[$TEST_NAME] FAIL: $*" >&2
    exit 1
}

cleanup() {
    local rc=$?
    set +e
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    local d
    for d in "${DATA_DIRS[@]}"; do
        if [ -f "$d/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
        fi
    done
    wait 2>/dev/null
    if [ "$rc" != 0 ]; then
        echo "[$TEST_NAME] failed (status $rc) after $(( $(date +%s) - TEST_STARTED )) s (run with KEEP=1 to keep $T)" >&2
        for d in "${DATA_DIRS[@]}"; do
            for f in "$d.log" "$d/lifeboat-restore.log"; do
                if [ -f "$f" ]; then
                    echo "---- last lines of $f" >&2
                    tail -n 15 "$f" >&2
                fi
            done
        done
    fi
    if [ -n "${RGW_DIR:-}" ]; then
        bash "$LB_SCRIPTS/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "[$TEST_NAME] KEEP=1: left $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

# exec_as_pg CMD...: like as_pg, but replaces the calling (sub)shell without a parent process in
# between, so in `(exec_as_pg CMD) &` $! is the program itself and signals reach it.
exec_as_pg() {
    if [ "$(id -u)" = 0 ]; then
        exec setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@"
    else
        exec "$@"
    fi
}

# lifeboat, as the server's account.
lb() { as_pg "$LB" "$@"; }

# A TCP port nothing listens on (the servers listen on a unix socket in $T only, but the port
# still names the socket, and restore's --port is checked too).
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$(( 20000 + RANDOM % 30000 ))
        if ! ss -Htan "sport = :$port" 2>/dev/null | grep -q . &&
           [ ! -e "$T/.s.PGSQL.$port" ]; then
            echo "$port"
            return 0
        fi
    done
    fail "no free port found"
}

# start_s3 BUCKET...: starts a throwaway S3 server on loopback with these buckets (stopped by the
# cleanup) and sets S3_ENDPOINT, S3_SERVER and the AWS_* credentials (exported, so lifeboat sees
# them). LIFEBOAT_S3_SERVER chooses it: s3rver (default; signatures unchecked, no conditional
# writes) or rgw (Ceph's RADOS Gateway, scripts/rgw.sh: a real S3 server). A test that needs what
# only RGW does sets LIFEBOAT_S3_SERVER=rgw before calling it.
start_s3() {
    S3_SERVER=${LIFEBOAT_S3_SERVER:-s3rver}
    case "$S3_SERVER" in
        rgw)
            RGW_DIR=$(mktemp -d /tmp/lb-rgw-e2e.XXXXXX)
            rmdir "$RGW_DIR"
            bash "$LB_SCRIPTS/rgw.sh" start "$RGW_DIR" "$@" >"$T/rgw.env" 2>"$T/rgw.err" ||
                { cat "$T/rgw.err" >&2; fail "the RADOS Gateway did not start"; }
            # shellcheck disable=SC1091
            source "$T/rgw.env"
            S3_ENDPOINT=$LIFEBOAT_RGW_ENDPOINT
            export AWS_ACCESS_KEY_ID=$LIFEBOAT_RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$LIFEBOAT_RGW_SECRET_KEY
            ;;
        s3rver)
            local script="$LB_SCRIPTS/../tests/s3/node_modules/s3rver/bin/s3rver.js" port b
            local buckets=()
            [ -f "$script" ] || fail "s3rver is not installed (scripts/install-deps.sh runs npm ci in tests/s3)"
            for b in "$@"; do buckets+=(--configure-bucket "$b"); done
            port=$(free_port)
            mkdir -p "$T/s3"
            node --openssl-legacy-provider "$script" --directory "$T/s3" --port "$port" \
                --address 127.0.0.1 --silent "${buckets[@]}" >"$T/s3rver.log" 2>&1 &
            BG_PIDS+=($!)
            S3_ENDPOINT="http://127.0.0.1:$port"
            export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
            for _ in $(seq 300); do curl -s -o /dev/null "$S3_ENDPOINT/" && break; sleep 0.1; done
            ;;
        *) fail "LIFEBOAT_S3_SERVER must be s3rver or rgw, not '$S3_SERVER'" ;;
    esac
}

# s3_request METHOD PATH [curl options...]: a request signed with the AWS_* credentials
# (AWS Signature V4, by curl); the body on stdout.
s3_request() {
    local method=$1 path=$2
    shift 2
    curl -sS -X "$method" --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$S3_ENDPOINT/$path"
}

conninfo_for() { echo "host=$T port=$1 user=$PG_USER dbname=postgres"; }

# init_source [initdb options...]: initdb $SRC (checksums on) and configure archiving into $REPO.
init_source() {
    SRC_PORT=$(free_port)
    SRC_CONN=$(conninfo_for "$SRC_PORT")
    as_pg "$PGBIN/initdb" -D "$SRC" --data-checksums --auth=trust -U "$PG_USER" "$@" >"$T/initdb.log" 2>&1 ||
        { cat "$T/initdb.log" >&2; fail "initdb failed"; }
    local archive_command="'$LB' wal-push %p --repo '$REPO'"
    cat >>"$SRC/postgresql.conf" <<EOF

# added by the Lifeboat e2e test
listen_addresses = ''
unix_socket_directories = '$T'
port = $SRC_PORT
archive_mode = on
archive_command = '${archive_command//\'/\'\'}'
track_commit_timestamp = on
wal_level = replica
max_wal_size = 256MB
fsync = off
EOF
}

# start_server DATADIR: start (and remember, for the cleanup) a server.
start_server() {
    local dir=$1
    DATA_DIRS+=("$dir")
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 60 start >/dev/null ||
        { tail -n 20 "$dir.log" >&2; fail "cannot start the server in $dir"; }
}

# wait_promoted CONNINFO: until that server has left recovery (60 s at most). A restored data
# directory started by pg_ctl accepts connections as a hot standby once consistent, before its
# replay reaches the target and it promotes: count rows only after this.
wait_promoted() {
    local i
    for i in $(seq 600); do
        [ "$(psql_on "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.1
    done
    fail "the server at '$1' is still in recovery after 60 s"
}

stop_server() {
    as_pg "$PGBIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null
    # A WAL prefetch process started by the server's restore_command may still be finishing a
    # segment: wait for it to let go of its spool, so the directory can be removed.
    local lock="$1/pg_wal/lifeboat-prefetch/.lock"
    if [ -e "$lock" ]; then flock -w 30 "$lock" true 2>/dev/null || true; fi
}

# start_source: repo-init, initdb, configure and start the source server.
start_source() {
    lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
    init_source "$@"
    start_server "$SRC"
    CONNINFO=$SRC_CONN
}

# q [CONNINFO] SQL: one query, unaligned tuples-only output, stops on error.
psql_on() {
    local conn=$1
    shift
    as_pg psql -X -A -t -q -v ON_ERROR_STOP=1 "$conn" -c "$*"
}
q() { psql_on "$CONNINFO" "$@"; }

# expect_exit CODE CMD...: runs CMD (stdout to $OUT, stderr to $ERR) and asserts its status.
OUT="$T/last.stdout"
ERR="$T/last.stderr"
expect_exit() {
    local want=$1
    shift
    local rc=0
    "$@" >"$OUT" 2>"$ERR" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "---- stdout of: $*" >&2
        head -c 4000 "$OUT" >&2
        echo "---- stderr of: $*" >&2
        head -c 4000 "$ERR" >&2
        fail "expected exit status $want, got $rc from: $*"
    fi
}

# expect_failure CMD...: asserts a non-zero status; sets RC.
expect_failure() {
    RC=0
    "$@" >"$OUT" 2>"$ERR" || RC=$?
    if [ "$RC" = 0 ]; then
        cat "$OUT" "$ERR" >&2
        fail "expected failure, got success from: $*"
    fi
}

# expect_one_line_error: stderr of the last expect_exit is exactly one line "lifeboat: error: ...".
expect_one_line_error() {
    local lines
    lines=$(wc -l <"$ERR")
    if [ "$lines" != 1 ] || ! head -n 1 "$ERR" | grep -q '^lifeboat: error: '; then
        echo "---- stderr ($lines lines):" >&2
        cat "$ERR" >&2
        fail "expected exactly one line starting with 'lifeboat: error:' on stderr"
    fi
}

# expect_in FILE REGEX [what]: grep -E -q, else fail showing the file.
expect_in() {
    local file=$1 re=$2
    if ! grep -E -q -- "$re" "$file"; then
        echo "---- $file:" >&2
        head -c 4000 "$file" >&2
        fail "${3:-expected /$re/ in $file}"
    fi
}

expect_eq() {
    local got=$1 want=$2 what=$3
    [ "$got" = "$want" ] || fail "$what: expected '$want', got '$got'"
}

# switch_wal_and_wait [CONNINFO]: switches to a new WAL segment and waits until the one just
# completed is archived.
switch_wal_and_wait() {
    local conn=${1:-$CONNINFO}
    local seg
    seg=$(psql_on "$conn" "SELECT pg_walfile_name(pg_switch_wal())")
    wait_archived "$seg" "$conn"
}

wait_archived() {
    local seg=$1 conn=${2:-$CONNINFO} last
    for _ in $(seq 1 600); do
        last=$(psql_on "$conn" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if [ -n "$last" ] && [[ ! "$last" < "$seg" ]]; then return 0; fi
        sleep 0.1
    done
    psql_on "$conn" "SELECT * FROM pg_stat_archiver" >&2 || true
    fail "WAL $seg was not archived within 60 s"
}

# restore_into DIR ARGS...: lifeboat restore --json into DIR (remembered for the cleanup);
# stdout in $OUT. Sets RESTORED_CONN when the instance was started.
restore_into() {
    local dir=$1
    shift
    DATA_DIRS+=("$dir")
    expect_exit 0 lb restore --repo "$REPO" --target-dir "$dir" --json "$@"
    RESTORED_CONN=$(jq -r '.conninfo // empty' "$OUT")
}

# backup_json ARGS...: lifeboat backup --json; sets BACKUP_ID.
backup_json() {
    expect_exit 0 lb backup --repo "$REPO" --pg "$CONNINFO" --json "$@"
    BACKUP_ID=$(jq -r .id "$OUT")
    [ -n "$BACKUP_ID" ] && [ "$BACKUP_ID" != null ] || fail "backup printed no id"
    cp "$OUT" "$T/backup-$BACKUP_ID.json"
}

# defer_fail MESSAGE: a failed check that should not stop the rest of the test (used for bugs
# found while writing the tests, so that one does not hide the next); finish fails if any.
DEFERRED=()
defer_fail() {
    echo "[$TEST_NAME] FAIL (deferred): $*" >&2
    DEFERRED+=("$*")
}

finish() {
    if [ "${#DEFERRED[@]}" -gt 0 ]; then
        fail "${#DEFERRED[@]} check(s) failed: $(printf '%s; ' "${DEFERRED[@]}")"
    fi
    log "PASSED in $(( $(date +%s) - TEST_STARTED )) s"
}
