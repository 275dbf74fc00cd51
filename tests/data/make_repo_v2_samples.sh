# Made tests/data/repo-v2/ and tests/data/repo-v2-encrypted/ (with repo-v2-encrypted.key), the
# frozen format-2 samples, once. Kept to show how; never rerun it to "fix" a sample (see
# README.md): real repositories were written by the code of that time, and the samples stand for
# them.
#
#   bash tests/data/make_repo_v2_samples.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

KEY="$T/repo-v2-encrypted.key"
as_pg bash -c "umask 077 && head -c 32 /dev/urandom > '$KEY'"
# One source archiving into both samples: 1 MiB WAL segments keep them small.
REPO="$T/repo-v2"
lb repo-init --repo "$T/repo-v2" >/dev/null
lb repo-init --repo "$T/repo-v2-encrypted" --encrypt --key-file "$KEY" >/dev/null
init_source --wal-segsize=1
sed -i "s|^archive_command = .*|archive_command = '''$LB'' wal-push %p --repo ''$T/repo-v2'' \&\& ''$LB'' wal-push %p --repo ''$T/repo-v2-encrypted'' --key-file ''$KEY'''|" "$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE TABLE frozen (id int PRIMARY KEY, note text NOT NULL)"
q "INSERT INTO frozen SELECT g, 'row ' || g FROM generate_series(1, 1000) g"
REPO="$T/repo-v2" backup_json --tag purpose=frozen-v2-sample
as_pg "$LB" backup --repo "$T/repo-v2-encrypted" --key-file "$KEY" --pg "$CONNINFO" \
    --tag purpose=frozen-v2-sample --json >/dev/null
q "INSERT INTO frozen SELECT g, 'after ' || g FROM generate_series(1001, 1100) g"
switch_wal_and_wait
stop_server "$SRC"
mkdir -p "$OUTDIR"
cp -a "$T/repo-v2" "$T/repo-v2-encrypted" "$KEY" "$OUTDIR/"
log "samples in $OUTDIR"
