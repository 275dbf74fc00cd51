#!/usr/bin/env bash
# The backup window against a real PostgreSQL 15: an agent started outside its window with a
# backup never taken (the missed-window rule would run it at once) records the backup as
# skipped instead, takes none, counts it in lifeboat_job_skipped_total and fires no
# backup_failed; reloaded with a window that is open now, it runs the missed backup at once.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int primary key); INSERT INTO t SELECT generate_series(1, 100)"

# Windows two hours long, closed now (starting in 6 h) and open now (from an hour ago), in UTC.
hhmm() { date -u -d "@$(( $(date +%s) + $1 ))" +%H:%M; }
CLOSED="$(hhmm $((6 * 3600)))-$(hhmm $((8 * 3600)))"
OPEN="$(hhmm -3600)-$(hhmm 3600)"
AGENT_PORT=$(free_port)
URL="http://127.0.0.1:$AGENT_PORT"
CONF="$T/agent.toml"
write_config() {
    cat >"$CONF" <<TOML
[repository]
path = "$REPO"
[source]
pg = "$CONNINFO"
[agent]
listen = "127.0.0.1:$AGENT_PORT"
source = "main"
probe_interval = "1s"
[schedule]
backup = "0 * * * *"
backup_window = "$1"
[alerts]
retries = 0
TOML
    chmod 644 "$CONF"
}
write_config "$CLOSED"

(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")

wait_for() {
    local what=$1 filter=$2 limit=${3:-120}
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if curl -fsS "$URL/api/status" -o "$T/status.json" 2>/dev/null &&
           [ "$(jq -r "$filter" "$T/status.json")" = true ]; then
            return 0
        fi
        kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 30 "$T/agent.log" >&2; fail "the agent died waiting for $what"; }
        sleep 0.2
    done
    jq . "$T/status.json" >&2 || true
    tail -n 30 "$T/agent.log" >&2
    fail "$what did not happen within $limit s"
}

wait_for "the missed backup to be skipped" '[.history[] | select(.kind == "backup" and .skipped)] | length == 1' 60
jq -e --arg w "$CLOSED" '.history[0] | .trigger == "missed window" and (.ok | not) and (.message | contains($w))' \
    "$T/status.json" >/dev/null || { jq .history "$T/status.json" >&2; fail "the skip is not recorded as such"; }
jq -e --arg w "$CLOSED" '.sources[0].backup_window == $w and .sources[0].job_skipped.backup == 1' \
    "$T/status.json" >/dev/null || fail "/api/status does not show the window and the skip"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq '.backups | length' "$OUT")" 0 "backups taken outside the window"
curl -fsS "$URL/metrics" -o "$T/metrics.txt"
expect_in "$T/metrics.txt" '^lifeboat_job_skipped_total\{source="main",repository="[^"]+",kind="backup"\} 1$'
expect_in "$T/metrics.txt" '^lifeboat_job_failures_total\{source="main",repository="[^"]+",kind="backup"\} 0$'
jq -e '[.alerts[] | select(.name == "backup_failed" and .state == "firing")] | length == 0' "$T/status.json" >/dev/null ||
    fail "a skipped backup fired backup_failed"
expect_exit 0 lb status --config "$CONF"
expect_in "$OUT" ' backup +skipped '
ok "outside its window ($CLOSED UTC) the missed backup was skipped and recorded, not run"

# A window open now: the reload rebuilds the schedule, and the missed backup runs at once.
write_config "$OPEN"
kill -HUP "$AGENT_PID"
wait_for "the missed backup inside the open window" '[.history[] | select(.kind == "backup" and .ok and .trigger == "missed window")] | length == 1' 120
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq '.backups | length' "$OUT")" 1 "backups after the window opened"
ok "inside its window ($OPEN UTC) the missed backup ran at once"

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
expect_eq "$rc" 0 "the agent's exit status after SIGTERM"
finish
