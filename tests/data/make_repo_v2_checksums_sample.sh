# Made tests/data/repo-v2-checksums/, the frozen sample whose zstd blocks carry their XXH3-128
# checksum frames (repository-format.md, "Block checksums"), once, on 2026-12-03. Kept to show
# how; never rerun it to "fix" the sample (see README.md): real repositories were written by the
# code of that time, and the sample stands for them.
#
#   bash tests/data/make_repo_v2_checksums_sample.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

# The same source as the other format-2 samples: 1 MiB WAL segments keep it small.
REPO="$T/repo-v2-checksums"
lb repo-init --repo "$REPO" >/dev/null
init_source --wal-segsize=1
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE frozen (id int PRIMARY KEY, note text NOT NULL)"
q "INSERT INTO frozen SELECT g, 'row ' || g FROM generate_series(1, 1000) g"
backup_json --tag purpose=frozen-v2-sample
q "INSERT INTO frozen SELECT g, 'after ' || g FROM generate_series(1001, 1100) g"
switch_wal_and_wait
stop_server "$SRC"
mkdir -p "$OUTDIR"
cp -a "$REPO" "$OUTDIR/"
log "sample in $OUTDIR"
