#!/usr/bin/env bash
# The agent with a postgres-logical source (issue 14, the agent side), against PostgreSQL 15 with
# wal_level = logical and a REPLICATION role without superuser: the agent takes the base backup
# from the schedule, then runs the capture continuously; /metrics shows the source's capture
# figures; a commit reaches the restorable window's end within a few seconds; with the capture
# kept out (the role loses REPLICATION and its walsender is terminated) the capture's failed
# runs are counted, the WAL the slot retains grows past a low slot_retained_above and the alert
# fires to a webhook, and it resolves once the role may stream again; scheduled backups stop and
# restart the capture, which continues after them; SIGTERM stops the agent (exit 0) with what the
# capture stored in the repository.
source "$(dirname "$0")/lib.sh" "$@"

lb repo-init --repo "$REPO" >/dev/null || fail "repo-init failed"
init_source
cat >>"$SRC/postgresql.conf" <<CONF
archive_mode = off
wal_level = logical
CONF
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION" >/dev/null
q "CREATE DATABASE app" >/dev/null
APP_ADMIN="host=$T port=$SRC_PORT user=$PG_USER dbname=app"
APP_REP="host=$T port=$SRC_PORT user=lbrep dbname=app"
a() { psql_on "$APP_ADMIN" "$@"; }
a "CREATE TABLE events (id bigint PRIMARY KEY, note text)
   ; CREATE TABLE big (id int PRIMARY KEY, body text)
   ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO lbrep
   ; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO lbrep" >/dev/null
expect_exit 0 lb logical-setup --pg "$APP_ADMIN" --apply
a "INSERT INTO events (id, note) SELECT g, 'before' FROM generate_series(1, 10) g" >/dev/null

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
state_dir = "$T/agent-state"
[schedule]
backup = "every 1d"
[alerts]
webhook = "http://127.0.0.1:$HOOK_PORT/hook"
retries = 0
slot_retained_above = "16MB"
[[sources]]
name = "app"
kind = "postgres-logical"
pg = "$APP_REP"
repository = "$REPO"
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
    curl -fsS "$URL/metrics" | grep -E "^$1\{source=\"app\"[^}]*\}" | head -n 1 | awk '{print $2}'
}
# wait_metric NAME AWK_CONDITION_ON_v SECONDS [ACTION]: polls until the condition holds (ACTION
# runs between polls).
wait_metric() {
    local name=$1 cond=$2 limit=$3 action=${4:-true} v=""
    local deadline=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        v=$(metric "$name")
        if [ -n "$v" ] && awk -v v="$v" "BEGIN { exit !($cond) }"; then
            echo "$v"
            return 0
        fi
        eval "$action"
        sleep 0.2
    done
    tail -n 30 "$T/agent.log" >&2
    fail "$name never satisfied '$cond' within $limit s (last '$v')"
}
wait_hook() {
    local re=$1 limit=${2:-60} action=${3:-true}
    local deadline=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        grep -E -q -- "$re" "$T/hooks.jsonl" && return 0
        eval "$action"
        sleep 0.5
    done
    cat "$T/hooks.jsonl" >&2
    tail -n 30 "$T/agent.log" >&2
    fail "no webhook matching /$re/ within $limit s"
}
epoch_now() { a "SELECT extract(epoch FROM clock_timestamp())"; }

# The base backup first (from the schedule), then the capture.
wait_metric lifeboat_backups 'v >= 1' 120 >/dev/null
wait_metric lifeboat_capture_up 'v == 1' 60 >/dev/null
for _ in $(seq 1 300); do
    [ "$(a "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] && break
    sleep 0.1
done
[ "$(a "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] || fail "the capture does not stream"
grep -q "app backup succeeded" "$T/agent.log" || fail "the agent did not log the base backup"
grep -q "app capture started" "$T/agent.log" || fail "the agent did not log the capture's start"
ok "the agent took the base backup, then started the capture"

# A commit reaches the window's end within a few seconds.
before=$(epoch_now)
a "INSERT INTO events (id, note) VALUES (11, 'captured by the agent')" >/dev/null
started=$(date +%s.%N)
newest=$(wait_metric lifeboat_capture_newest_commit_timestamp_seconds "v >= $before" 30)
took=$(echo "$(date +%s.%N) - $started" | bc)
log "the commit reached the window end after $took s (newest stored commit $newest)"
[ "$(echo "$took < 8" | bc)" = 1 ] || defer_fail "a commit took $took s to reach the window end"
window_end=$(metric lifeboat_restorable_window_end_timestamp_seconds)
awk -v w="$window_end" -v b="$before" 'BEGIN { exit !(w >= b) }' ||
    fail "the restorable window ends at $window_end, before the commit at $before"
curl -fsS "$URL/metrics" >"$T/metrics1"
for m in lifeboat_capture_up lifeboat_capture_newest_commit_timestamp_seconds \
    lifeboat_capture_lag_seconds lifeboat_slot_retained_wal_bytes lifeboat_rpo_seconds; do
    grep -E -q "^$m\{source=\"app\",repository=\"[^\"]*\"\} [0-9.e+-]+$" "$T/metrics1" ||
        fail "/metrics has no $m for the logical source"
done
grep -E -q '^lifeboat_job_failures_total\{source="app",[^}]*kind="capture"\} 0$' "$T/metrics1" ||
    fail "/metrics has no capture failure counter"
lag=$(metric lifeboat_capture_lag_seconds)
retained=$(metric lifeboat_slot_retained_wal_bytes)
rpo=$(wait_metric lifeboat_rpo_seconds 'v == 0' 30)
log "capture lag $lag s, slot retains $retained bytes, RPO $rpo s"
[ ! -s "$T/hooks.jsonl" ] || { cat "$T/hooks.jsonl" >&2; fail "an alert fired while capturing"; }
ok "/metrics shows the capture's figures; the commit is in the window"

# Keep the capture out: the role may no longer stream, and its walsender is terminated.
q "ALTER ROLE lbrep NOREPLICATION" >/dev/null
q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL" >/dev/null
capture_failures() {
    curl -fsS "$URL/metrics" | grep -E '^lifeboat_job_failures_total\{source="app",[^}]*kind="capture"\}' | awk '{print $2}'
}
for _ in $(seq 1 300); do
    [ "$(capture_failures)" -ge 1 ] 2>/dev/null && break
    sleep 0.1
done
failures=$(capture_failures)
[ "${failures:-0}" -ge 1 ] || fail "the capture's failure is not counted (kind=capture: '$failures')"
grep -q "app capture FAILED" "$T/agent.log" || fail "the agent did not log the capture's failure"
curl -fsS "$URL/api/status" >"$T/status.json"
jq -e '.history | any(.kind == "capture" and .ok == false)' "$T/status.json" >/dev/null ||
    fail "the capture's failure is not in /api/status's history"
jq -e '.sources[0].capture | .slot_retained_bytes >= 0 and (.up | type) == "boolean"' "$T/status.json" >/dev/null ||
    fail "/api/status has no capture figures"
# WAL the slot must keep: about 40 MB of rows the capture cannot store.
a "INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 40000) g" >/dev/null
stuck_at=$(date +%s)
wait_hook '"alert":"slot_retained".*"state":"firing"' 60
log "slot_retained fired $(($(date +%s) - stuck_at)) s after the WAL was written"
grep -E '"alert":"slot_retained"' "$T/hooks.jsonl" | head -n 1 |
    jq -e '.state == "firing" and .source == "app" and .threshold == "16777216" and (.value | tonumber) > 16777216' >/dev/null ||
    fail "the slot_retained webhook body"
wait_metric lifeboat_rpo_seconds 'v >= 1' 30 >/dev/null
wait_metric lifeboat_capture_up 'v == 0' 30 >/dev/null
ok "capture kept out: failures counted, RPO grows, slot_retained fired"

# Let it stream again: the capture restarts (after its backoff), stores the rows and confirms;
# the slot's restart point advances at the next running-transactions record (a checkpoint
# writes one).
q "ALTER ROLE lbrep REPLICATION" >/dev/null
wait_metric lifeboat_capture_up 'v == 1' 120 >/dev/null
wait_hook '"alert":"slot_retained".*"state":"resolved"' 180 'q "CHECKPOINT" >/dev/null'
wait_metric lifeboat_rpo_seconds 'v == 0' 60 >/dev/null
ok "the capture restarted and slot_retained resolved"

# A scheduled backup needs the slot the capture holds: the agent stops the capture, backs up,
# and starts the capture again, which continues from the new backup. (A reload makes backups
# due every 2 s until two more ran, then daily again.)
backups_before=$(metric lifeboat_backups)
sed -i 's/^backup = "every 1d"/backup = "every 2s"/' "$CONF"
kill -HUP "$AGENT_PID"
wait_metric lifeboat_backups "v >= $backups_before + 2" 120 >/dev/null
sed -i 's/^backup = "every 2s"/backup = "every 1d"/' "$CONF"
kill -HUP "$AGENT_PID"
grep -q "app capture stopped for the backup" "$T/agent.log" ||
    fail "the agent did not stop the capture for the backup"
! grep -E "app backup FAILED" "$T/agent.log" >&2 || fail "a scheduled backup failed while the capture ran"
wait_metric lifeboat_capture_up 'v == 1' 60 >/dev/null
before=$(epoch_now)
a "INSERT INTO events (id, note) VALUES (13, 'after the new backup')" >/dev/null
wait_metric lifeboat_capture_newest_commit_timestamp_seconds "v >= $before" 30 >/dev/null
ok "scheduled backups ran with the capture stopped around them; the capture continued after them"

# SIGTERM: the capture stores what it holds and the agent exits 0.
before=$(epoch_now)
a "INSERT INTO events (id, note) VALUES (12, 'last')" >/dev/null
wait_metric lifeboat_capture_newest_commit_timestamp_seconds "v >= $before" 30 >/dev/null
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly (status $?)"
grep -q "app capture stopped" "$T/agent.log" || fail "the agent did not log the capture's stop"
[ "$(a "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ] ||
    fail "the slot is still in use after the agent stopped"
expect_exit 0 lb list --repo "$REPO" --json
latest=$(jq -r .window.latest "$OUT")
latest_epoch=$(date -d "$latest" +%s.%N)
awk -v w="$latest_epoch" -v b="$before" 'BEGIN { exit !(w >= b - 1) }' ||
    fail "the repository's window ends at $latest, before the last commit"
ok "SIGTERM stopped the agent (exit 0); the repository's window reaches the last commit ($latest)"
finish
