#!/usr/bin/env bash
# mongo-preflight's history figure (the scripted oplog's oldest entry a day back), then the agent
# with a mongodb source ([[sources]] kind = "mongodb", mongo = URI): it runs the
# source's capture on its own thread (the stream of a scripted replica-set primary in front of
# CongoDB, tests/mongo/capture_primary.py), shows it in /api/status and /metrics with the
# server's change history (the oplog's oldest entry, scripted) and the stored resume point's age,
# and fires change_history once that age reaches history_used_above (50%) of the history: with an
# oplog reaching a day back nothing fires; with one reaching 8 s back it fires once the scripted
# events stop and the resume point ages past 4 s. Scripted replies only: no real MongoDB server.
source "$(dirname "$0")/lib.sh" "$@"

MONGO_DIR="$(cd "$E2E_DIR/../mongo" && pwd)"
[ -f "$MONGO_DIR/smartmongo/dist_ts/congodb/index.js" ] ||
    fail "CongoDB is not installed (scripts/install-deps.sh unpacks it into tests/mongo)"
/usr/bin/python3 -c 'import mockupdb, pymongo' 2>/dev/null ||
    fail "python3-mockupdb is not installed (scripts/install-deps.sh)"

wait_for() {
    local what=$1 limit=$2
    shift 2
    local deadline=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 0.2
    done
    tail -n 30 "$T/agent.log" >&2 2>/dev/null || true
    fail "waited $limit s for $what"
}

CONGO_PORT=$(free_port)
node "$MONGO_DIR/congodb_server.mjs" "$CONGO_PORT" "$T/congo" >"$T/congo.log" 2>&1 &
BG_PIDS+=($!)
wait_for "CongoDB" 30 test -f "$T/congo/ready"
node "$MONGO_DIR/mongo_tool.mjs" fill "$(cat "$T/congo/ready")" 20
mkdir -p "$T/control"
echo 86400 >"$T/control/oplog"
/usr/bin/python3 "$MONGO_DIR/capture_primary.py" "$T/primary.port" "$(cat "$T/congo/ready")" \
    "$T/control" 0.5 >"$T/primary.log" 2>&1 &
BG_PIDS+=($!)
wait_for "the scripted primary" 30 test -s "$T/primary.port"
PRIMARY="mongodb://127.0.0.1:$(cat "$T/primary.port")/?replicaSet=rs0&serverSelectionTimeoutMS=5000"

lb mongo-preflight --mongo "$PRIMARY" --json >"$T/preflight.json" || true
OUT="$T/preflight.json"
jq -e '.change_streams == true and .history_seconds > 86000' "$OUT" >/dev/null ||
    fail "mongo-preflight does not state the oplog's day of history: $(cat "$OUT")"
jq -r '.notes[]' "$OUT" | grep -q "oplog reaches back 24.0 hours" ||
    fail "mongo-preflight's notes: $(jq -c .notes "$OUT")"
ok "mongo-preflight states the change-stream history the oplog holds"
expect_exit 0 lb repo-init --repo "$REPO"
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY" --json

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
[[sources]]
name = "docs"
kind = "mongodb"
mongo = "$PRIMARY"
repository = "$REPO"
TOML
chmod 644 "$CONF" && chmod -R a+rX "$T/control"
(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
BG_PIDS+=($!)
api_up() { curl -fsS "$URL/api/status" -o /dev/null 2>/dev/null; }
wait_for "the agent's API" 30 api_up

status_has() { curl -fsS "$URL/api/status" | jq -e "$1" >/dev/null 2>&1; }
events_stored() { [ "$(ls "$REPO/wal/changes" 2>/dev/null | wc -l)" -ge 1 ]; }
wait_for "the agent's capture to store the scripted events" 60 events_stored
wait_for "the change history in /api/status" 30 status_has \
    '.sources[0].capture | .up == true and .history_seconds > 86000 and .resume_age_seconds >= 0'
curl -fsS "$URL/metrics" >"$T/metrics"
for m in lifeboat_capture_up lifeboat_change_history_seconds lifeboat_resume_point_age_seconds; do
    grep -E -q "^$m\{source=\"docs\",repository=\"[^\"]*\"\} [0-9.e+-]+$" "$T/metrics" ||
        fail "/metrics has no $m for the mongodb source"
done
[ ! -s "$T/hooks.jsonl" ] || { cat "$T/hooks.jsonl" >&2; fail "an alert fired with a day of history"; }
ok "the agent captures the mongodb source; /api/status and /metrics show a day of change history"

# The scripted events end after about 3 s; the oplog now reaches 8 s back.
echo 8 >"$T/control/oplog"
hook_firing() { grep -E -q '"alert":"change_history".*"state":"firing"' "$T/hooks.jsonl"; }
wait_for "change_history to fire" 60 hook_firing
grep -E '"alert":"change_history"' "$T/hooks.jsonl" | head -n 1 | grep -q "new base backup" ||
    fail "the change_history message does not say a new base backup would be needed"
status_has '.sources[0].capture | .history_seconds < 10 and .resume_age_seconds >= 4' ||
    fail "/api/status: $(curl -fsS "$URL/api/status" | jq -c '.sources[0].capture')"
ok "change_history fired once the resume point was half-way out of an 8 s history"
finish
