#!/usr/bin/env bash
# A PostgreSQL endpoint that accepts and never answers must not hang lifeboat (issue 9, item 14):
# `backup` and `validate` fail within the connect limit (10 s by default, or connect_timeout in
# the conninfo) against a listener that never speaks, and within --pg-timeout against one that
# completes the startup and then never answers a query; a real server cancels a statement that
# runs longer than --pg-timeout itself. Each command is bounded by `timeout 120`: status 124
# means it hung.
source "$(dirname "$0")/lib.sh" "$@"

# fake_server MODE PORT: silent (accept, never read or write) or mute (answer the startup as a
# trusting PostgreSQL 15 would, then read queries and never answer them).
fake_server() {
    python3 - "$1" "$2" "$T/fake-$1.ready" <<'PY' &
import socket, struct, sys, threading
mode, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
open(ready, "w").write("ready")
held = []

def read_exactly(c, n):
    data = b""
    while len(data) < n:
        chunk = c.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

def serve(c):
    if mode == "silent":
        return  # keep the socket open, never answer
    try:
        while True:  # SSL and GSS encryption requests: refused; then the startup packet
            length = struct.unpack("!I", read_exactly(c, 4))[0]
            body = read_exactly(c, length - 4)
            if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):
                c.sendall(b"N")
                continue
            break
        out = b"R" + struct.pack("!II", 8, 0)
        for key, value in (("server_version", "15.0"), ("client_encoding", "UTF8"),
                           ("standard_conforming_strings", "on"), ("integer_datetimes", "on")):
            payload = key.encode() + b"\0" + value.encode() + b"\0"
            out += b"S" + struct.pack("!I", 4 + len(payload)) + payload
        out += b"K" + struct.pack("!III", 12, 4242, 4343) + b"Z" + struct.pack("!I", 5) + b"I"
        c.sendall(out)
        while c.recv(65536):
            pass
    except (EOFError, OSError):
        pass

while True:
    conn, _ = server.accept()
    held.append(conn)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
    BG_PIDS+=($!)
    for _ in $(seq 1 100); do
        [ -f "$T/fake-$1.ready" ] && return 0
        sleep 0.1
    done
    fail "the fake $1 server did not start"
}

start_source
SILENT_PORT=$(free_port)
fake_server silent "$SILENT_PORT"
MUTE_PORT=$(free_port)
fake_server mute "$MUTE_PORT"
SILENT="host=127.0.0.1 port=$SILENT_PORT user=postgres dbname=postgres"
MUTE="host=127.0.0.1 port=$MUTE_PORT user=postgres dbname=postgres"

# bounded MAX_SECONDS STATUS ARGS...: lifeboat ARGS (environment: BOUNDED_ENV) exits with
# STATUS within MAX_SECONDS.
BOUNDED_ENV=()
bounded() {
    local max=$1 status=$2
    shift 2
    local started=$SECONDS
    expect_exit "$status" as_pg env "${BOUNDED_ENV[@]}" timeout 120 "$LB" "$@"
    local took=$((SECONDS - started))
    [ "$took" -le "$max" ] || fail "lifeboat $1 took $took s (limit $max s)"
    expect_one_line_error
    log "lifeboat $1 failed after $took s: $(cat "$ERR")"
}

# A listener that never speaks: the default connect limit (10 s).
bounded 40 8 backup --repo "$REPO" --pg "$SILENT"
expect_in "$ERR" "host 127.0.0.1 port $SILENT_PORT did not complete the connection within 10 s"
bounded 40 8 validate --pg "$SILENT"
expect_in "$ERR" "within 10 s"
# connect_timeout in the conninfo sets the limit.
bounded 20 8 validate --pg "$SILENT connect_timeout=3"
expect_in "$ERR" "within 3 s"

# A server that completes the startup and then never answers: --pg-timeout plus 5 s.
bounded 40 8 backup --repo "$REPO" --pg "$MUTE" --pg-timeout 3
expect_in "$ERR" "host 127.0.0.1 port $MUTE_PORT did not answer within 8 s"
bounded 40 8 validate --pg "$MUTE" --pg-timeout 3
expect_in "$ERR" "did not answer within 8 s"
BOUNDED_ENV=(LIFEBOAT_PG_TIMEOUT=2)
bounded 40 8 validate --pg "$MUTE"
expect_in "$ERR" "did not answer within 7 s"
BOUNDED_ENV=()

# A real server cancels a statement running past --pg-timeout: a failed check, not a hang.
cat >"$T/slow.toml" <<'EOC'
[[check]]
name = "slow"
sql = "SELECT pg_sleep(60)::text"
expect = "is null"
EOC
chmod 644 "$T/slow.toml"
bounded 40 10 validate --pg "$CONNINFO" --database postgres --checks "$T/slow.toml" --pg-timeout 2
expect_in "$OUT" "FAILED  user slow: .*statement timeout"

# The defaults leave a healthy backup and validation alone.
backup_json
expect_exit 0 lb validate --pg "$CONNINFO"
finish
