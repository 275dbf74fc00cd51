# Made tests/data/repo-v2-logical/, the frozen sample of a postgres-logical backup (format 2),
# once. Kept to show how; never rerun it to "fix" the sample (see README.md).
#
#   bash tests/data/make_repo_v2_logical_sample.sh /abs/path/to/lifeboat OUTDIR
set -euo pipefail
OUTDIR=$2
source "$(dirname "$0")/../e2e/lib.sh" "$1"

REPO="$T/repo-v2-logical"
lb repo-init --repo "$REPO" >/dev/null
init_source
printf 'archive_mode = off\nwal_level = logical\n' >>"$SRC/postgresql.conf"
start_server "$SRC"
CONNINFO=$SRC_CONN
q "CREATE ROLE lbrep LOGIN REPLICATION"
q "CREATE TABLE frozen (id int PRIMARY KEY, note text NOT NULL)"
q "INSERT INTO frozen SELECT g, 'row ' || g FROM generate_series(1, 1000) g"
q "GRANT SELECT ON frozen TO lbrep"
CONNINFO="host=$T port=$SRC_PORT user=lbrep dbname=postgres" \
    backup_json --source-kind postgres-logical --tag purpose=frozen-v2-logical-sample
stop_server "$SRC"
mkdir -p "$OUTDIR"
rm -rf "$REPO/locks" "$REPO/tmp"
cp -a "$REPO" "$OUTDIR/"
log "sample in $OUTDIR"
