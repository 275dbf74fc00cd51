#!/usr/bin/env bash
# The agent's scrape latency and idle cost (issue 13): a real source and repository holding
# WAL_FILES WAL objects (default 200,000), an agent with the default probe (5 s) and catalog
# refresh, then SCRAPES scrapes of /metrics and of /api/status (p50 = the median, p99, max in
# ms, curl included), the catalog's load time at that size (lifeboat_catalog_load_seconds: the
# background refresh, never on the scrape path), and the agent's CPU time and resident memory
# over IDLE_SECONDS seconds of idling.
#
#   bash bench/agent_scrape.sh /abs/path/to/lifeboat [WAL_FILES] [SCRAPES] [IDLE_SECONDS]
#
# The source archives REAL_WAL real segments (pg_switch_wal, default 8); the rest are written
# directly in the repository format, cheaply: hard links of one real archived WAL object (a
# valid WALF object) under the names of a timeline (9) that no backup and no history file
# reaches. The catalog lists, sorts and indexes every one of them on each refresh, as it
# would archived segments; only the window's walk along the backup's own timeline does not
# read them (it reads just the segments it follows).
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
WAL_FILES=${2:-200000}
REAL_WAL=${REAL_WAL:-8}
SCRAPES=${3:-500}
IDLE_SECONDS=${4:-60}

start_source
q "CREATE TABLE t (id int)"
backup_json
log "archiving $REAL_WAL real WAL segments"
for _ in $(seq 1 "$REAL_WAL"); do
    q "INSERT INTO t VALUES (1)"
    q "SELECT pg_switch_wal()" >/dev/null
done
switch_wal_and_wait
fake=$(( WAL_FILES - REAL_WAL ))
if [ "$fake" -gt 0 ]; then
    log "writing $fake more WAL objects into the repository (hard links of a real one)"
    python3 - "$REPO" "$fake" <<'PY'
import os, shutil, sys
repo, count = sys.argv[1], int(sys.argv[2])
real = next(os.path.join(d, f) for d, _, files in os.walk(os.path.join(repo, "wal"))
            for f in sorted(files) if len(f) == 24 and f.startswith("00000001"))
st = os.stat(real)
# A file system allows some 65,000 links to one file: a fresh copy heads each 50,000.
for i in range(count):
    name = "00000009%08X%08X" % (i // 256, i % 256)
    d = os.path.join(repo, "wal", name[:16])
    if i % 256 == 0:
        os.makedirs(d, exist_ok=True)
        os.chown(d, st.st_uid, st.st_gid)
    target = os.path.join(d, name)
    if i % 50000 == 0:
        shutil.copyfile(real, target)
        os.chown(target, st.st_uid, st.st_gid)
        head = target
    else:
        os.link(head, target)
PY
fi

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
# The agent answers before its first catalog read ends (the HTTP server starts first): wait
# for the catalog, then measure.
for _ in $(seq 1 3000); do
    curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$T/metrics.txt" 2>/dev/null &&
        grep -Eq '^lifeboat_repository_reachable\{.*\} 1$' "$T/metrics.txt" && break
    sleep 0.1
done
grep -Eq '^lifeboat_repository_reachable\{.*\} 1$' "$T/metrics.txt" || fail "the agent did not read the catalog within 300 s"
wal=$(grep -E '^lifeboat_repository_wal_files\{' "$T/metrics.txt" | awk '{print $2}')
load=$(grep -E '^lifeboat_catalog_load_seconds\{' "$T/metrics.txt" | awk '{print $2}')
log "catalog load (background refresh) with $wal WAL objects: $load s"

latency() {
    local path=$1
    for _ in $(seq 1 "$SCRAPES"); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$path"
    done | sort -n | awk '{ v[NR] = $1 * 1000 } END {
        printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms", v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }'
}
log "/metrics ($wal WAL objects in the repository): $(latency /metrics)"
log "/api/status: $(latency /api/status)"

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
before=$(cpu)
sleep "$IDLE_SECONDS"
after=$(cpu)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
awk -v a="$after" -v b="$before" -v t="$ticks" -v s="$IDLE_SECONDS" -v r="$rss" 'BEGIN {
    printf "idle: %.2f%% of one core over %d s (probe every 5 s; the catalog re-read when the archive moves, else every 5 min), RSS %.1f MiB\n",
        (a - b) / t / s * 100, s, r / 1024 }' | while read -r line; do log "$line"; done
kill -TERM "$PID"
wait "$PID" || true
finish
