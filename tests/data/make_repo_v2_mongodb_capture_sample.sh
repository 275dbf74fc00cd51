# Made tests/data/repo-v2-mongodb-capture/, the frozen sample of a mongodb backup with a change log
# (format 2, change log version 1), once, against CongoDB behind the scripted replica-set primary
# (tests/mongo/capture_primary.py). Kept to show how; never rerun it to "fix" the sample (see
# README.md).
#
#   bash tests/data/make_repo_v2_mongodb_capture_sample.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

MONGO_DIR="$(cd "$E2E_DIR/../mongo" && pwd)"
port=$(free_port)
node "$MONGO_DIR/congodb_server.mjs" "$port" "$T/congodb" >"$T/congodb.log" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 1 300); do [ -f "$T/congodb/ready" ] && break; sleep 0.1; done
URI=$(cat "$T/congodb/ready")
node "$MONGO_DIR/mongo_tool.mjs" fill "$URI" 20
mkdir -p "$T/control"
/usr/bin/python3 "$MONGO_DIR/capture_primary.py" "$T/primary.port" "$URI" "$T/control" 0.5 \
    >"$T/primary.log" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 1 300); do [ -s "$T/primary.port" ] && break; sleep 0.1; done
PRIMARY="mongodb://127.0.0.1:$(cat "$T/primary.port")/?replicaSet=rs0&serverSelectionTimeoutMS=5000"
REPO="$T/repo-v2-mongodb-capture"
lb repo-init --repo "$REPO" >/dev/null
lb backup --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY" \
    --tag purpose=frozen-v2-mongodb-capture-sample >/dev/null 2>&1
# All six scripted events, then SIGTERM (which stores what is held).
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$REPO" \
    --source-kind mongodb --mongo "$PRIMARY" --flush-interval 1s >/dev/null 2>&1 &
BG_PIDS+=($!)
JOB=$!
for _ in $(seq 1 600); do
    ls "$REPO/wal/changes" 2>/dev/null | grep -q -- '-........00000006$' && break
    sleep 0.1
done
kill -TERM "$(cat "$T/capture.pid")"
wait "$JOB"
mkdir -p "$OUTDIR"
rm -rf "$REPO/locks" "$REPO/tmp"
cp -a "$REPO" "$OUTDIR/"
log "sample in $OUTDIR"
