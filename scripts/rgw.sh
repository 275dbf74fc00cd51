#!/usr/bin/env bash
# A throwaway Ceph RADOS Gateway (a real S3 server: signatures checked, If-None-Match: *,
# ListMultipartUploads, object lock) on loopback, for the conformance and end-to-end tests.
# Everything lives in one temporary directory: one monitor, one OSD on memstore (data in RAM),
# no manager, and the gateway; ready in a few seconds, ~150 MB of memory.
#
# Usage:
#   scripts/rgw.sh start DIR [BUCKET...]  start in DIR (created; must not exist or be empty),
#                                         create the buckets, print the environment (also in
#                                         DIR/env, to be sourced)
#   scripts/rgw.sh stop DIR               stop every daemon started in DIR and remove DIR
#   scripts/rgw.sh run [--bucket B]... -- COMMAND...
#                                         start in a temporary directory, run COMMAND with the
#                                         environment exported, stop and clean up whatever
#                                         happens (trap); COMMAND's exit status
# The environment: LIFEBOAT_RGW_ENDPOINT (http://127.0.0.1:PORT), LIFEBOAT_RGW_ACCESS_KEY,
# LIFEBOAT_RGW_SECRET_KEY, and LIFEBOAT_RGW_DIR. Tests that find no LIFEBOAT_RGW_ENDPOINT skip
# their RGW cases. Exit status 77 when the Ceph packages are missing (scripts/install-deps.sh
# installs them), so a ctest wrapper can report the test as skipped.
#
# Ports: the monitor, the OSD (which binds a range of ports: ms_bind_port_min/max) and the
# gateway each get free loopback ports, so several instances can run side by side.
#
# LIFEBOAT_RGW_NODELAY=0 starts the gateway without tcp_nodelay: every request on a kept-alive
# connection then waits ~40 ms (Nagle + delayed ACK), a stand-in for a distant region's
# first-byte latency (bench/s3_latency_restore.sh).
set -euo pipefail

k_access_key=lifeboat-rgw-access
k_secret_key=lifeboat-rgw-secret-0123456789abcdefghij

die() {
  echo "rgw: $*" >&2
  exit 1
}

have_ceph() {
  command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
    command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null &&
    command -v monmaptool >/dev/null && command -v ceph >/dev/null
}

port_free() {
  ! ss -Htln "sport = :$1" 2>/dev/null | grep -q . 
}

# A free port in [20000, 60000), and a free run of 8 for the OSD.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && { echo "$p"; return; }
  done
}
free_range() {
  local base i ok
  while :; do
    base=$((20000 + (RANDOM % 4000) * 10))
    ok=1
    for i in $(seq 0 7); do port_free $((base + i)) || { ok=0; break; }; done
    [ $ok = 1 ] && { echo "$base"; return; }
  done
}

# Polls COMMAND until it succeeds or SECONDS_LEFT run out.
wait_for() {  # seconds what command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what: not ready after the timeout (logs in $D/log)"
    sleep 0.1
  done
}

s3_request() {  # method path: a signed request to the gateway
  curl -sf -o /dev/null -X "$1" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$k_access_key:$k_secret_key" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$ENDPOINT/$2"
}

start() {  # dir buckets...
  D=$1
  shift
  have_ceph || { echo "rgw: Ceph is not installed (scripts/install-deps.sh)" >&2; exit 77; }
  mkdir -p "$D"
  D=$(cd "$D" && pwd)
  [ -z "$(ls -A "$D")" ] || die "$D is not empty"
  mkdir -p "$D/run" "$D/log" "$D/mon" "$D/osd" "$D/rgw"
  local fsid mon_port osd_base rgw_port osd_uuid osd_id conf
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  local nodelay=" tcp_nodelay=1"
  [ "${LIFEBOAT_RGW_NODELAY:-1}" = 0 ] && nodelay=""
  mon_port=$(free_port)
  osd_base=$(free_range)
  rgw_port=$(free_port)
  while [ "$rgw_port" = "$mon_port" ] || { [ "$rgw_port" -ge "$osd_base" ] && [ "$rgw_port" -lt $((osd_base + 8)) ]; }; do
    rgw_port=$(free_port)
  done
  conf="$D/ceph.conf"
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $osd_base
ms bind port max = $((osd_base + 7))
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
keyring = $D/keyring
mon data = $D/mon/\$id
osd data = $D/osd/\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
paxos propose interval = 0.1
paxos min wait = 0.01
osd mon shutdown timeout = 0.5
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port$nodelay
rgw data = $D/rgw
rgw dns name = localhost
EOF
  : >"$D/keyring"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$D/monmap" >/dev/null
  ceph-mon -c "$conf" -i a --mkfs --monmap "$D/monmap" >"$D/log/mkfs-mon.out" 2>&1 ||
    die "ceph-mon --mkfs failed: $(tail -3 "$D/log/mkfs-mon.out")"
  ceph-mon -c "$conf" -i a >"$D/log/mon.out" 2>&1 || die "ceph-mon did not start"
  osd_id=$(timeout 60 ceph -c "$conf" osd new "$osd_uuid" 2>>"$D/log/ceph-cli.err") ||
    die "ceph osd new failed: $(tail -3 "$D/log/ceph-cli.err")"
  mkdir -p "$D/osd/$osd_id"
  ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >"$D/log/mkfs-osd.out" 2>&1 ||
    die "ceph-osd --mkfs failed: $(tail -3 "$D/log/mkfs-osd.out")"
  ceph-osd -c "$conf" -i "$osd_id" >"$D/log/osd.out" 2>&1 || die "ceph-osd did not start"
  wait_for 120 "the OSD" osd_up "$conf"
  radosgw -c "$conf" -n client.rgw >"$D/log/rgw.out" 2>&1 || die "radosgw did not start"
  ENDPOINT="http://127.0.0.1:$rgw_port"
  wait_for 120 "the gateway" curl -sf -o /dev/null "$ENDPOINT/"
  radosgw-admin -c "$conf" -n client.rgw --admin-socket "" user create --uid=lifeboat --display-name=lifeboat \
    --access-key="$k_access_key" --secret="$k_secret_key" >"$D/log/user.out" 2>&1 ||
    die "radosgw-admin user create failed: $(tail -3 "$D/log/user.out")"
  local bucket
  for bucket in "$@"; do
    # The new user may take a moment to be visible to the gateway.
    wait_for 30 "bucket $bucket" s3_request PUT "$bucket"
  done
  cat >"$D/env" <<EOF
export LIFEBOAT_RGW_DIR=$D
export LIFEBOAT_RGW_ENDPOINT=$ENDPOINT
export LIFEBOAT_RGW_ACCESS_KEY=$k_access_key
export LIFEBOAT_RGW_SECRET_KEY=$k_secret_key
EOF
  cat "$D/env"
}

osd_up() {
  timeout 10 ceph -c "$1" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'
}

stop() {  # dir
  local dir=$1 pidfile pid pids=()
  [ -d "$dir" ] || return 0
  # The gateway first, then the OSD, then the monitor.
  for pidfile in "$dir"/run/client.rgw.pid "$dir"/run/osd.*.pid "$dir"/run/mon.*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start)
    [ $# -ge 2 ] || die "usage: rgw.sh start DIR [BUCKET...]"
    shift
    dir=$1
    shift
    # A failed start leaves nothing running behind.
    trap 'rc=$?; if [ $rc != 0 ] && [ $rc != 77 ]; then stop "$dir"; fi' EXIT
    start "$dir" "$@"
    trap - EXIT
    ;;
  stop)
    [ $# -eq 2 ] || die "usage: rgw.sh stop DIR"
    stop "$2"
    ;;
  run)
    shift
    buckets=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      case "$1" in
        --bucket) buckets+=("$2"); shift 2 ;;
        *) die "run: unknown option $1" ;;
      esac
    done
    [ "${1:-}" = -- ] && [ $# -ge 2 ] || die "usage: rgw.sh run [--bucket B]... -- COMMAND..."
    shift
    dir=$(mktemp -d /tmp/lb-rgw.XXXXXX)
    trap 'stop "$dir"' EXIT
    trap 'exit 130' INT TERM
    started=$SECONDS
    start "$dir" "${buckets[@]}" >/dev/null
    echo "rgw: ready at $ENDPOINT in $((SECONDS - started)) s" >&2
    # shellcheck disable=SC1091
    source "$dir/env"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
    ;;
  *)
    die "usage: rgw.sh start DIR [BUCKET...] | stop DIR | run [--bucket B]... -- COMMAND..."
    ;;
esac
