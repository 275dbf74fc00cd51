#!/usr/bin/env bash
# The agent's scrape latency and idle cost (issue 13): a real source and repository with
# WAL_FILES archived segments (default 200; each pg_switch_wal archives one), an agent with the
# default probe (5 s) and catalog refresh (15 s) and no schedule, then SCRAPES scrapes of
# /metrics and of /api/status (p50, p99, max in ms, curl included), and the agent's CPU time and
# resident memory over IDLE_SECONDS seconds of idling.
#
#   bash bench/agent_scrape.sh /abs/path/to/lifeboat [WAL_FILES] [SCRAPES] [IDLE_SECONDS]
#
# A scrape reads the state the agent keeps in memory and never the repository, so its latency
# does not depend on WAL_FILES; what does is the catalog refresh in the background (reported
# from the agent's view: the catalog's age stays under catalog_refresh plus its load time).
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
WAL_FILES=${2:-200}
SCRAPES=${3:-500}
IDLE_SECONDS=${4:-60}

start_source
q "CREATE TABLE t (id int)"
backup_json
log "archiving $WAL_FILES WAL segments"
for _ in $(seq 1 "$WAL_FILES"); do
    q "INSERT INTO t VALUES (1)"
    q "SELECT pg_switch_wal()" >/dev/null
done
switch_wal_and_wait

PORT=$(free_port)
cat >"$T/agent.toml" <<TOML
[repository]
path = "$REPO"
[source]
pg = "$CONNINFO"
[agent]
listen = "127.0.0.1:$PORT"
TOML
chmod 644 "$T/agent.toml"
if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$LB" agent --config "$T/agent.toml" 2>"$T/agent.log" &
else
    "$LB" agent --config "$T/agent.toml" 2>"$T/agent.log" &
fi
PID=$!
BG_PIDS+=("$PID")
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/metrics" -o /dev/null 2>/dev/null && break; sleep 0.1; done
wal=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^lifeboat_repository_wal_files\{' | awk '{print $2}')

latency() {
    local path=$1
    for _ in $(seq 1 "$SCRAPES"); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$path"
    done | sort -n | awk '{ v[NR] = $1 * 1000 } END {
        printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms", v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }'
}
log "/metrics ($wal WAL files in the window's run): $(latency /metrics)"
log "/api/status: $(latency /api/status)"

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
before=$(cpu)
sleep "$IDLE_SECONDS"
after=$(cpu)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
awk -v a="$after" -v b="$before" -v t="$ticks" -v s="$IDLE_SECONDS" -v r="$rss" 'BEGIN {
    printf "idle: %.2f%% of one core over %d s (probe every 5 s, catalog every 15 s), RSS %.1f MiB\n",
        (a - b) / t / s * 100, s, r / 1024 }' | while read -r line; do log "$line"; done
kill -TERM "$PID"
wait "$PID" || true
finish
