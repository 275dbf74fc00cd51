#!/usr/bin/env bash
# The agent's status page and drills (issue 13): an agent whose schedule runs a drill (to
# 'latest') at start-up records it; the page, loaded in Debian's headless Chromium on a phone's
# width with JavaScript off (tests/browser/check_agent_page.mjs), shows the restorable window,
# the backup and the passing drill of the real source, asks for nothing from elsewhere, and its
# screenshot is kept as a test artifact ($LIFEBOAT_TEST_ARTIFACTS, default
# BUILD/test-artifacts/agent-page.png). Bound beyond loopback, the token is enforced: without it
# every endpoint answers 401; with it the page loads. The drill's metrics follow. A drill whose
# user check fails (agent.drill_checks) fires drill_failed to an alert command.
HERE=$(cd "$(dirname "$0")" && pwd)
BROWSER_TESTS="$HERE/../browser"
BUILD_DIR=$HERE/../../build
case "${1:-}" in */src/cli/lifeboat) BUILD_DIR=$(cd "$(dirname "$1")/../.." && pwd) ;; esac
ARTIFACTS=${LIFEBOAT_TEST_ARTIFACTS:-$BUILD_DIR/test-artifacts}
source "$HERE/lib.sh" "$@"

[ -d "$BROWSER_TESTS/node_modules/playwright-core" ] ||
    fail "playwright-core is not installed in tests/browser: run scripts/install-deps.sh"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed: run scripts/install-deps.sh"

start_source
q "CREATE TABLE t (id int primary key, v text)"
backup_json
q "INSERT INTO t SELECT g, 'after' FROM generate_series(1, 500) g"
switch_wal_and_wait

AGENT_PORT=$(free_port)
TOKEN=page-token-$RANDOM
CONF="$T/agent.toml"
cat >"$CONF" <<TOML
[repository]
path = "$REPO"
[source]
pg = "$CONNINFO"
[agent]
listen = "0.0.0.0:$AGENT_PORT"
token = "$TOKEN"
source = "main"
probe_interval = "1s"
catalog_refresh = "2s"
drill_target = "latest"
[schedule]
drill = "every 1d"
TOML
chmod 644 "$CONF"
URL="http://127.0.0.1:$AGENT_PORT"

(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
auth=(-H "Authorization: Bearer $TOKEN")
for _ in $(seq 1 300); do
    curl -fsS "${auth[@]}" "$URL/api/status" -o /dev/null 2>/dev/null && break
    kill -0 "$AGENT_PID" 2>/dev/null || { cat "$T/agent.log" >&2; fail "the agent exited"; }
    sleep 0.1
done

# The token, off loopback: every endpoint refuses a request without it (or with another).
for path in / /metrics /api/status; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL$path")
    expect_eq "$code" 401 "GET $path without the token"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$URL$path")
    expect_eq "$code" 401 "GET $path with a wrong token"
    code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$URL$path")
    expect_eq "$code" 200 "GET $path with the token"
done
ok "bound beyond loopback, the token is enforced on every endpoint"

# The drill runs at start-up (never ran before); wait for it (event-driven).
deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -fsS "${auth[@]}" "$URL/api/status" -o "$T/status.json"
    if [ "$(jq -r '[.history[] | select(.kind == "drill")] | length' "$T/status.json")" -ge 1 ] &&
       [ "$(jq -r '.sources[0].last_drill != null' "$T/status.json")" = true ]; then
        break
    fi
    sleep 0.5
done
jq -e '[.history[] | select(.kind == "drill")][0].ok' "$T/status.json" >/dev/null || {
    jq '.history' "$T/status.json" >&2
    tail -n 20 "$T/agent.log" >&2
    fail "the scheduled drill did not pass"
}
jq -e '.sources[0].last_drill.passed and .sources[0].estimated_rto_seconds > 0' "$T/status.json" >/dev/null ||
    fail "the drill is not in the status"
ok "the scheduled drill passed: $(jq -r '[.history[] | select(.kind == "drill")][0].message' "$T/status.json")"

curl -fsS "${auth[@]}" "$URL/metrics" -o "$T/metrics.txt"
rto=$(grep -E '^lifeboat_drill_last_rto_seconds\{source="main"' "$T/metrics.txt" | awk '{print $2}')
drill_ts=$(grep -E '^lifeboat_drill_last_success_timestamp_seconds\{source="main"' "$T/metrics.txt" | awk '{print $2}')
awk -v r="$rto" -v d="$drill_ts" 'BEGIN { exit !(r > 0 && d > 0) }' || fail "drill metrics: rto $rto, time $drill_ts"
expect_in "$T/metrics.txt" '^lifeboat_drill_last_result\{source="main",repository="[^"]+"\} 1$'
ok "drill metrics: RTO $rto s"

node "$BROWSER_TESTS/check_agent_page.mjs" "$URL/" "$ARTIFACTS/agent-page.png" \
    '{"backups": 1, "windows": 1, "passed_drills": 1}' "$TOKEN" \
    >"$T/browser.out" 2>"$T/browser.err" || {
    cat "$T/browser.out" "$T/browser.err" >&2
    fail "the status page in Chromium"
}
curl -fsS "${auth[@]}" "$URL/" -o "$ARTIFACTS/agent-page.html"
ok "Chromium: $(cat "$T/browser.out")"

# Without the token, the browser gets nothing.
if node "$BROWSER_TESTS/check_agent_page.mjs" "$URL/" "$T/denied.png" '{}' \
    >"$T/browser.out" 2>"$T/browser.err"; then
    fail "the page loaded without the token"
fi
expect_in "$T/browser.err" 'status 401'
ok "without the token the browser gets 401"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly"

# A drill whose check fails fires drill_failed (here to an alert command).
cat >"$T/checks.toml" <<'TOML'
[[check]]
name = "more rows than there are"
sql = "SELECT count(*) FROM t"
expect = "> 1000000"
TOML
touch "$T/alerts.txt"
chmod 644 "$T/checks.toml"
chmod 666 "$T/alerts.txt"
sed -i -e 's/^drill = .*/drill = "every 2s"/' -e "s|^drill_target = .*|drill_target = \"latest\"\ndrill_checks = \"$T/checks.toml\"|" "$CONF"
cat >>"$CONF" <<TOML
[alerts]
command = "echo \"\$LIFEBOAT_ALERT \$LIFEBOAT_ALERT_STATE \$LIFEBOAT_ALERT_MESSAGE\" >> $T/alerts.txt"
TOML
(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ] && ! grep -q '^drill_failed firing' "$T/alerts.txt"; do
    kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$T/agent.log" >&2; fail "the agent exited"; }
    sleep 0.5
done
grep -q "^drill_failed firing .*check 'more rows than there are' failed" "$T/alerts.txt" || {
    cat "$T/alerts.txt" >&2
    tail -n 20 "$T/agent.log" >&2
    fail "a failing drill check did not fire drill_failed"
}
ok "a failing drill check fired: $(grep '^drill_failed firing' "$T/alerts.txt" | head -n 1)"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly"
finish
