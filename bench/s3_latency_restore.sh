#!/usr/bin/env bash
# Restore from an object store far away (issue 18): a real S3 gateway (Ceph RGW, scripts/rgw.sh)
# started without tcp_nodelay, so every request on a kept-alive connection waits ~40 ms (Nagle +
# delayed ACK), like a bucket in another region. A pgbench database at SCALE (default 20) is
# backed up into a local repository, copied into the bucket (`lifeboat copy`), and copied back
# out into a second local directory: the local copy of the same repository. Then RUNS (default
# 3) files-only restores from each; prints the median wall time, the ranged requests and bytes
# fetched (restore --json), the peak resident memory of the restore, the ratio S3 / local, and
# the measured latency of one small GET on the gateway.
#
#   bash bench/s3_latency_restore.sh /abs/path/to/lifeboat [SCALE] [RUNS]
#
# WAL_SEGMENTS=N (default 0) archives N more WAL segments after the backup, as a repository that
# has kept a few days of WAL holds thousands: every restore first reads each segment's metadata
# to know how far the archive reaches.
#
# pgBackRest is not measured here: it speaks S3 over TLS only, and the gateway would need a
# certificate (left for later; see docs/performance.md).
source "$(dirname "$0")/../tests/e2e/lib.sh" "$1"
SCALE=${2:-20}
RUNS=${3:-3}
IO_DEPTH=${IO_DEPTH:-}
WAL_SEGMENTS=${WAL_SEGMENTS:-0}

LIFEBOAT_RGW_NODELAY=0 LIFEBOAT_S3_SERVER=rgw start_s3 far
FAR="s3://far/lifeboat?endpoint=$S3_ENDPOINT&style=path"
LOCAL="$T/local"
CREDENTIALS=(env "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY")
lbs3() { as_pg "${CREDENTIALS[@]}" "$LB" "$@"; }

# One small GET, ten times on one connection (curl reuses it): the gateway's per-request cost.
s3_request PUT far/probe --data-binary "probe" >/dev/null
urls=()
for _ in $(seq 10); do urls+=("$S3_ENDPOINT/far/probe"); done
probe_start=$(date +%s.%N)
curl -sS -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "${urls[@]}" >/dev/null
probe_end=$(date +%s.%N)
LATENCY_MS=$(python3 -c "print(f'{($probe_end - $probe_start) * 100:.1f}')")
log "gateway: $LATENCY_MS ms per small GET on a kept-alive connection"

start_source
log "pgbench -i -s $SCALE"
as_pg "$PGBIN/pgbench" -i -s "$SCALE" -q "$CONNINFO" >/dev/null 2>&1 || fail "pgbench -i failed"
q "CHECKPOINT" >/dev/null
backup_json --jobs 2
DATA=$(jq -r .data_bytes "$OUT")
STORED=$(jq -r .stored_bytes "$OUT")
if [ "$WAL_SEGMENTS" -gt 0 ]; then
    log "archiving $WAL_SEGMENTS more WAL segments"
    q "CREATE TABLE wal_filler (n int)" >/dev/null
    for n in $(seq "$WAL_SEGMENTS"); do
        q "INSERT INTO wal_filler VALUES ($n)" >/dev/null
        q "SELECT pg_switch_wal()" >/dev/null
    done
    switch_wal_and_wait
fi
expect_exit 0 lbs3 repo-init --repo "$FAR"
expect_exit 0 lbs3 copy --from "$REPO" --to "$FAR" --json
expect_exit 0 lb repo-init --repo "$LOCAL"
copy_start=$(date +%s.%N)
expect_exit 0 lbs3 copy --from "$FAR" --to "$LOCAL" --json
copy_end=$(date +%s.%N)
COPY_S=$(python3 -c "print(f'{$copy_end - $copy_start:.2f}')")
COPY_REQUESTS=$(jq -r .requests "$OUT")

# restore_once REPO NAME: a files-only restore; appends "seconds requests bytes_fetched io_depth
# max_rss_kib" to $T/NAME.runs.
restore_once() {
    local repo=$1 name=$2 dir="$T/restored-$2"
    local depth=()
    [ -n "$IO_DEPTH" ] && depth=(--io-depth "$IO_DEPTH")
    rm -rf "$dir"
    python3 - "$T/$name.json" "$T/$name.runs" -- "${CREDENTIALS[@]}" "$LB" restore --repo "$repo" \
        --to consistent --target-dir "$dir" --jobs 2 "${depth[@]}" --json <<'PY'
import json, resource, subprocess, sys, time, os
out, runs = sys.argv[1], sys.argv[2]
cmd = sys.argv[4:]
if os.getuid() == 0:
    cmd = ["runuser", "-u", "postgres", "--"] + cmd
start = time.monotonic()
with open(out, "w") as f:
    subprocess.run(cmd, stdout=f, check=True)
seconds = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
j = json.load(open(out))
with open(runs, "a") as f:
    f.write(f"{seconds:.3f} {j['requests']} {j['bytes_fetched']} {j['io_depth']} {rss}\n")
PY
    [ $? = 0 ] || fail "restore from $name failed"
    rm -rf "$dir"
}
for _ in $(seq "$RUNS"); do
    restore_once "$LOCAL" local
    restore_once "$FAR" s3
done

python3 - "$SCALE" "$DATA" "$STORED" "$LATENCY_MS" "$T/local.runs" "$T/s3.runs" "$COPY_S" "$COPY_REQUESTS" \
    "$WAL_SEGMENTS" <<'PY'
import statistics, sys
scale, data, stored, latency, local_runs, s3_runs, copy_s, copy_requests, wal_segments = sys.argv[1:]
mib = 1024 * 1024
def load(path):
    rows = [line.split() for line in open(path)]
    return {
        "seconds": statistics.median(float(r[0]) for r in rows),
        "requests": int(statistics.median(int(r[1]) for r in rows)),
        "fetched": int(statistics.median(int(r[2]) for r in rows)),
        "depth": rows[0][3],
        "rss": max(int(r[4]) for r in rows) / 1024,
        "all": ", ".join(r[0] for r in rows),
    }
local, s3 = load(local_runs), load(s3_runs)
ideal = -(-int(stored) // (4 * mib))
print(f"pgbench SCALE={scale}: {int(data)/mib:.0f} MiB of data, {int(stored)/mib:.1f} MiB stored, "
      f"{wal_segments} WAL segments archived after the backup; "
      f"RGW at {latency} ms per small GET; medians of {len(open(s3_runs).readlines())} runs, --jobs 2")
print()
print("| restore (files only) | wall (median) | runs | requests | fetched | io depth | peak RSS |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
for name, r in (("local copy (posix)", local), ("S3, ~40 ms per request", s3)):
    print(f"| {name} | {r['seconds']:.2f} s | {r['all']} | {r['requests']} | "
          f"{r['fetched']/mib:.1f} MiB | {r['depth']} | {r['rss']:.0f} MiB |")
print()
print(f"S3 / local: {s3['seconds']/local['seconds']:.2f}x; requests {s3['requests']} against "
      f"stored bytes / 4 MiB = {ideal} ({s3['requests']/max(ideal,1):.2f}x)")
print(f"copy from S3 into the local directory: {copy_s} s, {copy_requests} ranged requests")
PY
finish
