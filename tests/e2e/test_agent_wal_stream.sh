#!/usr/bin/env bash
# The agent runs wal-stream for a postgres-physical source with wal_stream = true (issue 15, item
# 1's "also run by the agent"; item 5's alert): streaming starts once the repository holds a
# backup, a commit reaches the restorable window's end within seconds, /metrics, /api/status and
# the page show the stream and its slot; with the stream kept out (its role loses REPLICATION)
# and nothing archived, the WAL the slot retains passes slot_keep_above of
# max_slot_wal_keep_size and slot_invalidation fires to a webhook before the server invalidates
# the slot; once invalidated and the role may stream again, wal-stream records the gap and fails,
# log_gap fires, the agent keeps restarting it, and after a new backup it streams again and both
# alerts resolve.
source "$(dirname "$0")/lib.sh" "$@"

SLOT=lb_agent
start_source
q "ALTER SYSTEM SET max_slot_wal_keep_size = '48MB'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)" >/dev/null
backup_json
REP_CONN="host=$T port=$SRC_PORT user=lbrep dbname=postgres"

HOOK_PORT=$(free_port)
touch "$T/hooks.jsonl"
python3 "$E2E_DIR/webhook_receiver.py" "$HOOK_PORT" "$T/hooks.jsonl" &
BG_PIDS+=($!)

AGENT_PORT=$(free_port)
URL="http://127.0.0.1:$AGENT_PORT"
CONF="$T/agent.toml"
cat >"$CONF" <<TOML
[agent]
listen = "127.0.0.1:$AGENT_PORT"
probe_interval = "1s"
catalog_refresh = "1s"
catalog_refresh_idle = "2s"
state_dir = "$T/agent-state"
[schedule]
backup = "every 1d"
[alerts]
webhook = "http://127.0.0.1:$HOOK_PORT/hook"
retries = 0
slot_keep_above = "50%"
[[sources]]
name = "db"
pg = "$REP_CONN"
repository = "$REPO"
wal_stream = true
wal_stream_slot = "$SLOT"
TOML
chmod 644 "$CONF"

(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
for _ in $(seq 1 300); do
    curl -fsS "$URL/api/status" -o /dev/null 2>/dev/null && break
    sleep 0.1
done

metric() {
    curl -fsS "$URL/metrics" | grep -E "^$1\{source=\"db\"[^}]*\}" | head -n 1 | awk '{print $2}'
}
wait_metric() {
    local name=$1 cond=$2 limit=$3 v=""
    local deadline=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        v=$(metric "$name")
        if [ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($cond) }"; then
            echo "$v"
            return 0
        fi
        sleep 0.2
    done
    tail -n 30 "$T/agent.log" >&2
    fail "$name never satisfied '$cond' within $limit s (last '$v')"
}
wait_hook() {
    local re=$1 limit=${2:-60}
    local deadline=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        grep -E -q -- "$re" "$T/hooks.jsonl" && return 0
        sleep 0.2
    done
    cat "$T/hooks.jsonl" >&2
    tail -n 30 "$T/agent.log" >&2
    fail "no webhook matching /$re/ within $limit s"
}
slot_active() { q "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'), false)"; }
epoch_now() { q "SELECT extract(epoch FROM clock_timestamp())"; }

# ---- the agent streams; a commit reaches the window's end within seconds
wait_metric lifeboat_capture_up 'v == 1' 30 >/dev/null
for _ in $(seq 1 300); do [ "$(slot_active)" = t ] && break; sleep 0.1; done
[ "$(slot_active)" = t ] || { tail -n 20 "$T/agent.log" >&2; fail "slot $SLOT is not streamed"; }
before=$(epoch_now)
q "INSERT INTO items VALUES (1, 'streamed by the agent')"
started=$(date +%s.%N)
wait_metric lifeboat_capture_newest_commit_timestamp_seconds "v >= $before" 20 >/dev/null
took=$(echo "$(date +%s.%N) - $started" | bc)
[ "$(echo "$took < 8" | bc)" = 1 ] || defer_fail "a commit took $took s to reach the window end"
curl -fsS "$URL/metrics" >"$T/metrics1"
for m in lifeboat_capture_up lifeboat_slot_retained_wal_bytes lifeboat_slot_safe_wal_bytes lifeboat_slot_lost; do
    grep -E -q "^$m\{source=\"db\",repository=\"[^\"]*\"\} [0-9.e+-]+$" "$T/metrics1" ||
        fail "/metrics has no $m for the wal-stream source"
done
curl -fsS "$URL/api/status" >"$T/status.json"
jq -e '.sources[0].capture | .kind == "wal-stream" and .up == true and .slot_active == true and .slot_wal_status == "reserved" and .slot_keep_limit_bytes == 50331648 and .slot_safe_bytes > 0' \
    "$T/status.json" >/dev/null || fail "/api/status capture: $(jq -c '.sources[0].capture' "$T/status.json")"
curl -fsS "$URL/" | grep -q '<dt>wal-stream</dt><dd><span class="stream">running' || fail "the page does not show wal-stream running"
[ ! -s "$T/hooks.jsonl" ] || { cat "$T/hooks.jsonl" >&2; fail "an alert fired while streaming"; }
ok "the agent streams slot $SLOT: the commit reached the window end after $took s; metrics, status and page show it"

# ---- kept out, nothing archived: slot_invalidation fires before the slot is lost
q "ALTER SYSTEM SET archive_command = 'true'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "ALTER ROLE lbrep NOREPLICATION" >/dev/null
q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND active_pid IS NOT NULL" >/dev/null
for _ in $(seq 1 100); do [ "$(slot_active)" = f ] && break; sleep 0.1; done
for i in 1 2 3; do
    q "INSERT INTO items SELECT g, repeat('x', 1000) FROM generate_series($((i * 10000)), $((i * 10000 + 9999))) g"
done
wait_hook '"alert":"slot_invalidation".*"state":"firing"' 20
expect_eq "$(q "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" reserved "wal_status when the alert fired"
grep -E '"alert":"slot_invalidation"' "$T/hooks.jsonl" | head -n 1 |
    jq -e '.source == "db" and .threshold == "50%" and (.value | rtrimstr("%") | tonumber) > 50' >/dev/null ||
    fail "the slot_invalidation webhook body: $(head -n 1 "$T/hooks.jsonl")"
ok "slot_invalidation fired while the slot was still reserved: $(grep -E '"alert":"slot_invalidation"' "$T/hooks.jsonl" | head -n 1 | jq -r .message)"

# ---- past the limit: the slot is invalidated; streaming again records the gap, log_gap fires
for _ in $(seq 1 100); do
    q "INSERT INTO items SELECT g, repeat('y', 1000) FROM generate_series(900000 + $RANDOM * 10, 900000 + $RANDOM * 10 + 9) g ON CONFLICT DO NOTHING"
    q "SELECT pg_switch_wal()" >/dev/null
    q "CHECKPOINT"
    [ "$(q "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = lost ] && break
done
expect_eq "$(q "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")" lost "wal_status of the slot"
wait_metric lifeboat_slot_lost 'v == 1' 20 >/dev/null
q "ALTER ROLE lbrep REPLICATION" >/dev/null
wait_hook '"alert":"log_gap".*"state":"firing"' 90
[ -n "$(find "$REPO/wal-stream-gaps" -type f 2>/dev/null)" ] || fail "no gap recorded"
grep -q "db capture FAILED.*WAL gap" "$T/agent.log" || fail "the agent did not log wal-stream's gap failure"
ok "invalidated: the gap is recorded ($(ls "$REPO/wal-stream-gaps")), log_gap fired"

# ---- a new backup: the agent's next restart streams again, both alerts resolve
q "ALTER SYSTEM RESET archive_command" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
backup_json
wait_hook '"alert":"log_gap".*"state":"resolved"' 60
wait_hook '"alert":"slot_invalidation".*"state":"resolved"' 60
# (the agent's restart backoff doubles after each failed run, up to 60 s)
for _ in $(seq 1 700); do [ "$(slot_active)" = t ] && break; sleep 0.1; done
[ "$(slot_active)" = t ] || fail "the agent did not stream again after the new backup"
restarts=$(grep -c "db capture FAILED" "$T/agent.log")
ok "after backup $BACKUP_ID the agent streams again ($restarts failed run(s) restarted); alerts resolved"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly (status $?)"
[ "$(slot_active)" = f ] || fail "the slot is still in use after the agent stopped"
ok "SIGTERM stopped the agent and its wal-stream"
finish
