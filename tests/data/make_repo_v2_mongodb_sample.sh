# Made tests/data/repo-v2-mongodb/, the frozen sample of a mongodb backup (format 2), once, against
# CongoDB (tests/mongo). Kept to show how; never rerun it to "fix" the sample (see README.md).
#
#   bash tests/data/make_repo_v2_mongodb_sample.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

MONGO_DIR="$(cd "$E2E_DIR/../mongo" && pwd)"
port=$(free_port)
node "$MONGO_DIR/congodb_server.mjs" "$port" "$T/congodb" >"$T/congodb.log" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 1 300); do [ -f "$T/congodb/ready" ] && break; sleep 0.1; done
URI=$(cat "$T/congodb/ready")
node "$MONGO_DIR/mongo_tool.mjs" fill "$URI" 50
REPO="$T/repo-v2-mongodb"
lb repo-init --repo "$REPO" >/dev/null
lb backup --repo "$REPO" --source-kind mongodb --mongo "$URI" \
    --tag purpose=frozen-v2-mongodb-sample >/dev/null 2>&1
mkdir -p "$OUTDIR"
rm -rf "$REPO/locks" "$REPO/tmp"
cp -a "$REPO" "$OUTDIR/"
log "sample in $OUTDIR"
