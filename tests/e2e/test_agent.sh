#!/usr/bin/env bash
# The agent against a real PostgreSQL 15: "every Ns" schedules run backups, expiry, verify and
# a copy into a second repository (seen through /api/status, polled), /metrics carries the documented names and values, `status`
# shows the state, a failed backup (the source stopped) fires an alert to a local webhook
# receiver and a good one resolves it, `alert-test` reaches the receiver, SIGHUP with a bad
# file keeps the running configuration, SIGTERM stops it with status 0, a listen address off
# loopback needs a token and a configured token is enforced.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int primary key, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g"

# A webhook receiver: every POST body, one per line, in $T/hooks.jsonl.
HOOK_PORT=$(free_port)
touch "$T/hooks.jsonl"
chmod 666 "$T/hooks.jsonl"
python3 "$E2E_DIR/webhook_receiver.py" "$HOOK_PORT" "$T/hooks.jsonl" &
BG_PIDS+=($!)

WEST="$T/west"
lb repo-init --repo "$WEST" >/dev/null || fail "repo-init west"
AGENT_PORT=$(free_port)
CONF="$T/agent.toml"
write_config() {
    cat >"$CONF" <<TOML
default_repository = "primary"
[repositories.primary]
path = "$REPO"
[repositories.west]
path = "$WEST"
copy_after_backup = true
[source]
pg = "$CONNINFO"
[retention]
window = "0"
min_backups = 2
[agent]
listen = "127.0.0.1:$AGENT_PORT"
source = "main"
state_dir = "$T/agent-state"
probe_interval = "1s"
catalog_refresh = "2s"
[schedule]
backup = "every 4s"
expire = "after backup"
verify = "every 8s"
copy = "every 8s"
[alerts]
webhook = "http://127.0.0.1:$HOOK_PORT/hook"
backup_older_than = "1h"
retries = 3
first_retry = "1s"
TOML
    chmod 644 "$CONF"
}
write_config

URL="http://127.0.0.1:$AGENT_PORT"
start_agent() {
    (exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
    AGENT_PID=$!
    BG_PIDS+=("$AGENT_PID")
    for _ in $(seq 1 300); do
        curl -fsS "$URL/api/status" -o "$T/status.json" 2>/dev/null && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || { cat "$T/agent.log" >&2; fail "the agent exited at start-up"; }
        sleep 0.1
    done
    cat "$T/agent.log" >&2
    fail "the agent did not answer within 30 s"
}

# wait_for WHAT JQ_FILTER [seconds]: polls /api/status until the filter yields true.
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

# wait_hook REGEX: polls the receiver's file.
wait_hook() {
    local re=$1 limit=${2:-90}
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        grep -E -q -- "$re" "$T/hooks.jsonl" && return 0
        sleep 0.2
    done
    cat "$T/hooks.jsonl" >&2
    tail -n 30 "$T/agent.log" >&2
    fail "no webhook matching /$re/ within $limit s"
}

# Settings are checked before anything starts: off loopback without a token is refused.
sed "s/^listen = .*/listen = \"0.0.0.0:$AGENT_PORT\"/" "$CONF" >"$T/open.toml"
expect_exit 3 lb agent --config "$T/open.toml"
expect_one_line_error
expect_in "$ERR" "agent.token"
ok "listening beyond loopback without a token is refused"

# Metrics are present from start-up, before any job ran: the agent reads the catalog first.
start_agent
curl -fsS "$URL/metrics" -o "$T/metrics0.txt"
for name in lifeboat_up lifeboat_backup_last_success_timestamp_seconds \
    lifeboat_backup_last_duration_seconds lifeboat_wal_archive_lag_bytes lifeboat_rpo_seconds \
    lifeboat_restorable_window_start_timestamp_seconds lifeboat_restorable_window_end_timestamp_seconds \
    lifeboat_repository_stored_bytes lifeboat_drill_last_success_timestamp_seconds \
    lifeboat_drill_last_rto_seconds lifeboat_job_failures_total; do
    expect_in "$T/metrics0.txt" "^$name\{source=\"main\",repository=\"[^\"]+\"" "metric $name missing at start-up"
done
expect_in "$T/metrics0.txt" '^lifeboat_up 1$'
ok "every documented metric is present at start-up"

wait_for "scheduled backups, an expire, a verify and a copy" \
    '([.history[] | select(.kind == "backup" and .ok)] | length) >= 2 and ([.history[] | select(.kind == "expire" and .ok and .trigger == "after backup")] | length) >= 1 and ([.history[] | select(.kind == "verify" and .ok)] | length) >= 1 and ([.history[] | select(.kind == "copy" and .ok)] | length) >= 1'
ok "the schedule ran backups, an expire after a backup, a verify and a copy"
expect_exit 0 lb list --repo "$WEST" --json
[ "$(jq '.backups | length' "$OUT")" -ge 1 ] || fail "the copy job put no backup in the second repository"
ok "the copy job filled the second repository"
# Never two jobs of one source at once: each job starts after the previous one finished.
jq -r '[.history[] | select(.source == "main")] | [range(1; length) as $i | .[$i].started >= .[$i - 1].finished] | all' \
    "$T/status.json" | grep -q true || fail "two jobs of one source overlapped"
ok "jobs of one source never overlapped"

# The figures of the metrics match the repository.
wait_for "the catalog to show the backups" '.sources[0].backups | length >= 2'
curl -fsS "$URL/metrics" -o "$T/metrics.txt"
metric() { grep -E "^$1\{source=\"main\"" "$T/metrics.txt" | head -n 1 | awk '{print $2}'; }
last_backup=$(metric lifeboat_backup_last_success_timestamp_seconds)
now=$(date +%s)
awk -v t="$last_backup" -v n="$now" 'BEGIN { exit !(t > n - 120 && t <= n + 1) }' ||
    fail "lifeboat_backup_last_success_timestamp_seconds $last_backup is not recent (now $now)"
stored=$(metric lifeboat_repository_stored_bytes)
awk -v s="$stored" 'BEGIN { exit !(s > 0) }' || fail "lifeboat_repository_stored_bytes is $stored"
expect_in "$T/metrics.txt" '^lifeboat_job_failures_total\{source="main",repository="[^"]+",kind="backup"\} 0$'
copied=$(metric lifeboat_copy_last_success_timestamp_seconds)
awk -v c="$copied" 'BEGIN { exit !(c > 0) }' || fail "lifeboat_copy_last_success_timestamp_seconds is $copied"
expect_in "$T/metrics.txt" '^lifeboat_backup_last_duration_seconds\{source="main",repository="[^"]+"\} [0-9.e-]+$'
ok "metric values match the repository (last backup $last_backup, stored $stored bytes)"

# Scrapes are cheap: they read the kept state.
start_ns=$(date +%s%N)
for _ in $(seq 1 20); do curl -fsS "$URL/metrics" -o /dev/null; done
per_scrape_ms=$(( ($(date +%s%N) - start_ns) / 20000000 ))
log "20 scrapes: $per_scrape_ms ms each (curl included)"
[ "$per_scrape_ms" -lt 100 ] || fail "a scrape took $per_scrape_ms ms"

# `lifeboat status`, text and JSON.
expect_exit 0 lb status --config "$CONF"
expect_in "$OUT" '^source main \(repository .*\): (ready|at_risk|not_ready)$'
expect_in "$OUT" 'last jobs:'
expect_in "$OUT" ' backup +ok '
expect_exit 0 lb status --config "$CONF" --json
jq -e '.sources[0].name == "main" and (.history | length) > 0' "$OUT" >/dev/null || fail "status --json"
ok "lifeboat status shows the agent's state"

# The status page is served, self-contained.
curl -fsS "$URL/" -o "$T/page.html"
expect_in "$T/page.html" '<svg class="timeline"'
expect_in "$T/page.html" 'class="backup"'
if grep -E -q '(src|href)="(https?:)?//' "$T/page.html"; then fail "the page refers to external assets"; fi
ok "the status page is served without external assets"

# alert-test reaches the receiver.
expect_exit 0 lb alert-test --config "$CONF"
expect_in "$OUT" 'delivered to 1 target'
wait_hook '"alert":"test"'
ok "alert-test delivered"

# A failed backup fires an alert within 60 s; a good one resolves it.
stop_server "$SRC"
wait_hook '"alert":"backup_failed".*"state":"firing"|"state":"firing".*"alert":"backup_failed"' 60
grep -E '"alert":"backup_failed"' "$T/hooks.jsonl" | head -n 1 | jq -e '.source == "main" and (.message | length) > 10 and has("value") and has("threshold")' >/dev/null ||
    fail "the webhook body lacks a field"
curl -fsS "$URL/metrics" -o "$T/metrics.txt"
failures=$(grep -E '^lifeboat_job_failures_total\{source="main".*kind="backup"' "$T/metrics.txt" | awk '{print $2}')
[ "$failures" -ge 1 ] || fail "lifeboat_job_failures_total for backups is $failures"
ok "a failed backup fired backup_failed ($failures failure(s) counted)"
start_server "$SRC"
wait_hook '"alert":"backup_failed".*"state":"resolved"|"state":"resolved".*"alert":"backup_failed"' 90
firing=$(grep -c '"alert":"backup_failed".*"firing"\|"firing".*"alert":"backup_failed"' "$T/hooks.jsonl")
[ "$firing" = 1 ] || fail "backup_failed fired $firing times: notifications are not de-duplicated"
ok "a good backup resolved it, and it fired once"

# SIGHUP with a bad file: refused, the agent keeps running on the old configuration.
echo 'this is [not toml' >"$CONF"
kill -HUP "$AGENT_PID"
wait_for "the reload to be refused" '.reload_error != ""' 30
kill -0 "$AGENT_PID" || fail "the agent died on a bad configuration"
expect_in "$T/agent.log" 'configuration refused, the running one is kept'
write_config
kill -HUP "$AGENT_PID"
wait_for "a good reload" '.reload_error == "" and .reloaded_at != ""' 30
ok "SIGHUP refused a bad file and kept running, then took the good one"

# SIGTERM: a clean stop with status 0, promptly.
kill -TERM "$AGENT_PID"
rc=0
deadline=$(( $(date +%s) + 60 ))
while kill -0 "$AGENT_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
kill -0 "$AGENT_PID" 2>/dev/null && fail "the agent did not stop within 60 s of SIGTERM"
wait "$AGENT_PID" || rc=$?
expect_eq "$rc" 0 "the agent's exit status after SIGTERM"
ok "SIGTERM stopped the agent with status 0"

# The history survives a restart, and a configured token is enforced.
cat >>"$CONF" <<TOML
TOML
sed -i "s/^source = \"main\"/source = \"main\"\ntoken = \"s3cret\"/" "$CONF"
start_agent_with_token() {
    (exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
    AGENT_PID=$!
    BG_PIDS+=("$AGENT_PID")
    for _ in $(seq 1 300); do
        curl -fsS -H "Authorization: Bearer s3cret" "$URL/api/status" -o "$T/status.json" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the agent with a token did not answer"
}
start_agent_with_token
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
expect_eq "$code" 401 "a scrape without the token"
jq -e '[.history[] | select(.kind == "backup")] | length >= 2' "$T/status.json" >/dev/null ||
    fail "the job history did not survive the restart"
expect_exit 0 lb status --config "$CONF"
ok "the token is enforced; the history survived a restart"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the second agent did not stop cleanly"

finish
