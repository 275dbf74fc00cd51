# The mongodb end-to-end scripts' shared part, sourced after lib.sh: CongoDB (a MongoDB
# wire-protocol server in TypeScript, unpacked into tests/mongo by scripts/install-deps.sh)
# started on free ports, and the scripts' client tool.
MONGO_DIR="$(cd "$E2E_DIR/../mongo" && pwd)"
[ -f "$MONGO_DIR/smartmongo/dist_ts/congodb/index.js" ] ||
    fail "CongoDB is not installed (scripts/install-deps.sh unpacks it into tests/mongo)"

# start_congodb NAME: starts a CongoDB on a free port and waits for its ready file (written
# whole, then renamed into place); sets URI_<NAME> and PID_<NAME>. Stopped with the script
# (BG_PIDS), or earlier by stop_congodb NAME.
start_congodb() {
    local name=$1 port
    port=$(free_port)
    node "$MONGO_DIR/congodb_server.mjs" "$port" "$T/$name" >"$T/$name.log" 2>&1 &
    BG_PIDS+=($!)
    printf -v "PID_$name" '%s' "$!"
    for _ in $(seq 1 300); do
        [ -f "$T/$name/ready" ] && break
        sleep 0.1
    done
    [ -f "$T/$name/ready" ] || { cat "$T/$name.log" >&2; fail "CongoDB $name did not start in 30 s"; }
    printf -v "URI_$name" '%s' "$(cat "$T/$name/ready")"
}

stop_congodb() {
    local pid_var="PID_$1"
    kill "${!pid_var}" 2>/dev/null || true
    wait "${!pid_var}" 2>/dev/null || true
}

# tool COMMAND ARGS...: tests/mongo/mongo_tool.mjs (fill, insert, digest, counts, ...).
tool() { node "$MONGO_DIR/mongo_tool.mjs" "$@"; }
