#!/usr/bin/env bash
# The agent's RPO against a real PostgreSQL 15: an idle source shows RPO 0 and raises nothing;
# breaking the archive (an archive_command that fails) makes lifeboat_rpo_seconds grow and fires
# the `rpo` alert to a local webhook receiver within the configured threshold plus one probe;
# fixing it sends "resolved".
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int primary key, v text)"
switch_wal_and_wait
backup_json

HOOK_PORT=$(free_port)
touch "$T/hooks.jsonl"
python3 "$E2E_DIR/webhook_receiver.py" "$HOOK_PORT" "$T/hooks.jsonl" &
BG_PIDS+=($!)

AGENT_PORT=$(free_port)
CONF="$T/agent.toml"
cat >"$CONF" <<TOML
[repository]
path = "$REPO"
[source]
pg = "$CONNINFO"
[agent]
listen = "127.0.0.1:$AGENT_PORT"
probe_interval = "1s"
catalog_refresh = "2s"
[alerts]
webhook = "http://127.0.0.1:$HOOK_PORT/hook"
rpo_above = "4s"
TOML
chmod 644 "$CONF"
URL="http://127.0.0.1:$AGENT_PORT"

(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
for _ in $(seq 1 300); do
    curl -fsS "$URL/api/status" -o /dev/null 2>/dev/null && break
    sleep 0.1
done

metric() {
    curl -fsS "$URL/metrics" | grep -E "^$1\{source=\"default\"" | head -n 1 | awk '{print $2}'
}
# wait_metric NAME AWK_CONDITION_ON_v SECONDS
wait_metric() {
    local name=$1 cond=$2 limit=$3 v=""
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        v=$(metric "$name")
        if [ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($cond) }"; then echo "$v"; return 0; fi
        sleep 0.2
    done
    tail -n 20 "$T/agent.log" >&2
    fail "$name never satisfied '$cond' within $limit s (last $v)"
}
wait_hook() {
    local re=$1 limit=${2:-60}
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        grep -E -q -- "$re" "$T/hooks.jsonl" && return 0
        sleep 0.2
    done
    cat "$T/hooks.jsonl" >&2
    tail -n 30 "$T/agent.log" >&2
    fail "no webhook matching /$re/ within $limit s"
}

# Idle: everything archived, RPO 0, and no alert over several probe intervals and thresholds.
wait_metric lifeboat_wal_archive_lag_bytes 'v == 0' 30 >/dev/null
idle_until=$(( $(date +%s) + 10 ))
while [ "$(date +%s)" -lt "$idle_until" ]; do
    v=$(metric lifeboat_rpo_seconds)
    [ "$v" = 0 ] || fail "an idle source shows RPO $v"
    sleep 0.5
done
[ ! -s "$T/hooks.jsonl" ] || { cat "$T/hooks.jsonl" >&2; fail "an idle source raised an alert"; }
ok "an idle source: RPO 0 and no alert for 10 s (2.5 thresholds)"

# Break the archive: writes pile up unarchived.
q "ALTER SYSTEM SET archive_command = 'false'"
q "SELECT pg_reload_conf()" >/dev/null
broken_at=$(date +%s)
q "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g"
q "SELECT pg_switch_wal()" >/dev/null
lag=$(wait_metric lifeboat_wal_archive_lag_bytes 'v > 0' 30)
r1=$(wait_metric lifeboat_rpo_seconds 'v >= 1' 30)
r2=$(wait_metric lifeboat_rpo_seconds "v > $r1 + 2" 30)
ok "archive broken: $lag bytes behind, RPO grows ($r1 s, then $r2 s)"
wait_hook '"alert":"rpo".*"state":"firing"' 30
fired_after=$(( $(date +%s) - broken_at ))
[ "$fired_after" -le 15 ] || fail "the rpo alert took $fired_after s (threshold 4 s, probes every 1 s)"
grep -E '"alert":"rpo"' "$T/hooks.jsonl" | head -n 1 |
    jq -e '.state == "firing" and .source == "default" and .threshold == "4" and (.value | tonumber) >= 4 and (.message | test("not archived"))' >/dev/null ||
    fail "the rpo webhook body"
failed=$(metric lifeboat_wal_archive_failures_total)
log "rpo fired $fired_after s after the archive broke; the server counts $failed failed archive attempts"
ok "the rpo alert fired"
# While the archive stays broken the alert is not sent again (de-duplicated).
sleep 6
firing=$(grep -c '"alert":"rpo".*"state":"firing"' "$T/hooks.jsonl")
expect_eq "$firing" 1 "rpo firing notifications while the archive stays broken"

# Fix it: the server archives what was pending, the RPO returns to 0, "resolved" is sent.
# archive_timeout as docs/operations.md asks of a quiet server: the few bytes PostgreSQL itself
# writes after the switch (a running-transactions record) would otherwise stay in the current
# segment, rightly counted as not archived, for as long as nothing else is written.
q "ALTER SYSTEM RESET archive_command"
q "ALTER SYSTEM SET archive_timeout = '1s'"
q "SELECT pg_reload_conf()" >/dev/null
switch_wal_and_wait
wait_metric lifeboat_rpo_seconds 'v == 0' 60 >/dev/null
wait_hook '"alert":"rpo".*"state":"resolved"' 30
ok "fixing the archive resolved it"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly"
finish
