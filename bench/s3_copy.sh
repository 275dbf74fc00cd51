#!/usr/bin/env bash
# Lifeboat to object storage: a full backup straight into an S3 bucket (s3rver on loopback), and
# `copy` of that backup into a second bucket (pgBackRest cannot copy between repositories, so
# there is no peer figure for it). Prints wall time, throughput and stored bytes.
#
#   bench/s3_copy.sh [--scale N] [--lifeboat PATH]      (default SCALE 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scale=20
lifeboat=""
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) scale=$2; shift 2 ;;
        --lifeboat) lifeboat=$2; shift 2 ;;
        *) echo "usage: bench/s3_copy.sh [--scale N] [--lifeboat PATH]" >&2; exit 2 ;;
    esac
done
bash "$root/scripts/install-deps.sh" >/dev/null
if [ -z "$lifeboat" ]; then bash "$root/scripts/build.sh" lifeboat >/dev/null; lifeboat="$root/build/src/cli/lifeboat"; fi
pgbin=/usr/lib/postgresql/15/bin
T=$(mktemp -d /tmp/lbs3bench.XXXXXX)
chmod 755 "$T"
cp "$lifeboat" "$T/lifeboat"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
S3_PORT=$(port); PG_PORT=$(port)
mkdir -p "$T/s3"
node --openssl-legacy-provider "$root/tests/s3/node_modules/s3rver/bin/s3rver.js" --directory "$T/s3" \
    --port "$S3_PORT" --address 127.0.0.1 --silent --configure-bucket primary --configure-bucket west \
    >"$T/s3rver.log" 2>&1 &
S3_PID=$!
cleanup() {
    as_pg "$pgbin/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1 || true
    kill "$S3_PID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown -R postgres: "$T"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
PRIMARY="s3://primary/lb?endpoint=http://127.0.0.1:$S3_PORT&style=path"
WEST="s3://west/lb?endpoint=http://127.0.0.1:$S3_PORT&style=path"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
as_pg "$T/lifeboat" repo-init --repo "$PRIMARY" >/dev/null
as_pg "$T/lifeboat" repo-init --repo "$WEST" >/dev/null
as_pg "$pgbin/initdb" -D "$T/pg" -k --auth=trust -U postgres >/dev/null
cat >>"$T/pg/postgresql.conf" <<EOC
listen_addresses = ''
unix_socket_directories = '$T'
port = $PG_PORT
archive_mode = on
archive_command = 'AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER $T/lifeboat wal-push %p --repo "$PRIMARY"'
max_wal_size = 1GB
EOC
as_pg "$pgbin/pg_ctl" -D "$T/pg" -l "$T/pg.log" -w start >/dev/null
CONN="host=$T port=$PG_PORT user=postgres dbname=postgres"
as_pg "$pgbin/pgbench" -i -s "$scale" -q "$CONN" >/dev/null 2>&1
as_pg psql -X -q "$CONN" -c CHECKPOINT
timed() { local s e; s=$(date +%s.%N); "$@" >"$T/out.json"; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.2f}')"; }
BACKUP_S=$(timed as_pg "$T/lifeboat" backup --repo "$PRIMARY" --pg "$CONN" --jobs 2 --json)
DATA=$(python3 -c "import json;print(json.load(open('$T/out.json'))['data_bytes'])")
STORED=$(python3 -c "import json;print(json.load(open('$T/out.json'))['stored_bytes'])")
COPY_S=$(timed as_pg "$T/lifeboat" copy --from "$PRIMARY" --to "$WEST" --jobs 2 --json)
COPIED=$(python3 -c "import json;print(json.load(open('$T/out.json'))['bytes_copied'])")
AGAIN_S=$(timed as_pg "$T/lifeboat" copy --from "$PRIMARY" --to "$WEST" --jobs 2 --json)
AGAIN=$(python3 -c "import json;print(json.load(open('$T/out.json'))['blocks_copied'])")
python3 - "$scale" "$BACKUP_S" "$DATA" "$STORED" "$COPY_S" "$COPIED" "$AGAIN_S" "$AGAIN" <<'PY'
import sys
scale, backup_s, data, stored, copy_s, copied, again_s, again = sys.argv[1:]
mib = 1024 * 1024
print(f"| step (SCALE={scale}, s3rver on loopback, 2 jobs) | wall | throughput | bytes |")
print("| --- | ---: | ---: | ---: |")
print(f"| full backup to S3 | {backup_s} s | {int(data)/mib/float(backup_s):.0f} MiB/s of data | {int(stored)/mib:.1f} MiB stored |")
print(f"| copy to a second bucket | {copy_s} s | {int(copied)/mib/float(copy_s):.0f} MiB/s sent | {int(copied)/mib:.1f} MiB sent |")
print(f"| copy again (nothing missing) | {again_s} s | | {again} blocks sent |")
PY
