#!/usr/bin/env bash
# Dump and restore throughput of the mongodb source kind against CongoDB (tests/mongo), beside
# the naive copy a script would do without a backup tool (tests/mongo/naive_copy.mjs: the node
# driver's find over each collection streamed into ordered insertMany batches of 1000 on the
# target, then the indexes). The source holds DOCS documents of the mongo_tool fill shape in
# four collections (nested documents, arrays, binary, decimal128, dates; two secondary indexes
# each). Each run: `backup` into a fresh repository, `restore --to consistent` into a fresh
# CongoDB, the naive copy into another fresh CongoDB; the figures are medians over the runs, wall
# time of the whole command (connections and process start included), with lifeboat's peak RSS
# from /usr/bin/time -v. The first run's restore and naive copy are checked document for
# document against the source (mongo_tool digest).
#
# What the figures measure: CongoDB is an in-memory server written in TypeScript (a find
# filters and sorts the whole collection in JavaScript, an insert is JavaScript), so both sides
# are bounded by it, not by the network or a storage engine: the ratio says how much Lifeboat's
# pipeline (blocks, hashing, compression, packs, then staging and bulk inserts) costs or saves
# against a plain driver copy on the same server, not what a MongoDB server would sustain.
#
#   bench/mongo_dump_restore.sh [--docs N] [--runs R] [--jobs J] [--split-mib M] [--quick]
#                               [--lifeboat PATH]
#   (defaults: DOCS=200000 or --docs, 3 runs, 4 jobs, lifeboat's --split-table-mib; --quick:
#   4000 documents, one run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
docs=${DOCS:-200000}
runs=3
jobs=4
split=()
lifeboat="$root/build/src/cli/lifeboat"
usage="usage: bench/mongo_dump_restore.sh [--docs N] [--runs R] [--jobs J] [--split-mib M] [--quick] [--lifeboat PATH]"
while [ $# -gt 0 ]; do
    case "$1" in
        --docs) docs=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --split-mib) split=(--split-table-mib "$2"); shift 2 ;;
        --quick) docs=4000; runs=1; shift ;;
        --lifeboat) lifeboat=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
lifeboat=$(cd "$(dirname "$lifeboat")" && pwd)/$(basename "$lifeboat")
cmdline="bench/mongo_dump_restore.sh --docs $docs --runs $runs --jobs $jobs${split[*]:+ --split-mib ${split[1]}}"
set -- "$lifeboat"
source "$root/tests/e2e/lib.sh" "$@"
source "$root/tests/e2e/lib_mongo.sh"
[ -x /usr/bin/time ] || fail "/usr/bin/time is needed for the peak RSS (Debian package time)"
per_collection=$((docs / 4))
docs=$((per_collection * 4))

now() { date +%s.%N; }
# peak_rss FILE: the peak RSS in KiB /usr/bin/time -v wrote to FILE.
peak_rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

start_congodb source
log "filling the source with $docs documents ($per_collection per collection)"
tool fill "$URI_source" "$per_collection"
tool digest "$URI_source" >"$T/source.digest"

: >"$T/runs"
for run in $(seq 1 "$runs"); do
    expect_exit 0 lb repo-init --repo "$T/repo$run"
    t0=$(now)
    expect_exit 0 as_pg /usr/bin/time -v -o "$T/time-backup$run" "$LB" backup --repo "$T/repo$run" \
        --source-kind mongodb --mongo "$URI_source" --jobs "$jobs" "${split[@]}" --json
    t1=$(now)
    ranges=$(jq '[.mongodb.collections[].ranges] | add' "$OUT")
    data_bytes=$(jq -r .data_bytes "$OUT")
    stored_bytes=$(jq -r .stored_bytes "$OUT")
    start_congodb "restored$run"
    uri_var="URI_restored$run"
    t2=$(now)
    expect_exit 0 as_pg /usr/bin/time -v -o "$T/time-restore$run" "$LB" restore \
        --repo "$T/repo$run" --to consistent --target-dir "$T/stage$run" \
        --target-mongo "${!uri_var}" --jobs "$jobs" --json
    t3=$(now)
    if [ "$run" = 1 ]; then
        tool digest "${!uri_var}" >"$T/restored.digest"
        diff "$T/source.digest" "$T/restored.digest" >&2 || fail "the restore differs from the source"
    fi
    stop_congodb "restored$run"
    rm -rf "$T/stage$run" "$T/repo$run"
    start_congodb "naive$run"
    uri_var="URI_naive$run"
    t4=$(now)
    /usr/bin/time -v -o "$T/time-naive$run" node "$MONGO_DIR/naive_copy.mjs" "$URI_source" \
        "${!uri_var}" >"$T/naive$run.json" || fail "the naive copy failed"
    t5=$(now)
    if [ "$run" = 1 ]; then
        tool digest "${!uri_var}" >"$T/naive.digest"
        diff "$T/source.digest" "$T/naive.digest" >&2 || fail "the naive copy differs from the source"
    fi
    stop_congodb "naive$run"
    echo "$t0 $t1 $t2 $t3 $t4 $t5 $data_bytes $stored_bytes $(peak_rss "$T/time-backup$run")" \
        "$(peak_rss "$T/time-restore$run") $(peak_rss "$T/time-naive$run")" >>"$T/runs"
    log "run $run of $runs done (the backup dumped $ranges ranges)"
done

python3 - "$T/runs" "$docs" "$cmdline" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1]) if line.strip()]
docs, cmd = int(sys.argv[2]), sys.argv[3]
med = lambda xs: statistics.median(xs)
backup = med([r[1] - r[0] for r in rows])
restore = med([r[3] - r[2] for r in rows])
both = med([(r[1] - r[0]) + (r[3] - r[2]) for r in rows])
naive = med([r[5] - r[4] for r in rows])
mib = med([r[6] for r in rows]) / 2**20
stored = med([r[7] for r in rows]) / 2**20
rss = lambda i: med([r[i] for r in rows]) / 1024
print(f"{cmd}: {docs} documents, {mib:.1f} MiB of BSON in 4 collections "
      f"({stored:.1f} MiB stored), medians of {len(rows)} run(s), CongoDB on both ends")
print(f"| | seconds | documents/s | MiB/s (BSON) | peak RSS (MiB) |")
print(f"| --- | --- | --- | --- | --- |")
print(f"| lifeboat backup | {backup:.2f} | {docs / backup:,.0f} | {mib / backup:.1f} | {rss(8):.0f} |")
print(f"| lifeboat restore | {restore:.2f} | {docs / restore:,.0f} | {mib / restore:.1f} | {rss(9):.0f} |")
print(f"| lifeboat backup + restore | {both:.2f} | {docs / both:,.0f} | {mib / both:.1f} | |")
print(f"| naive copy (node driver) | {naive:.2f} | {docs / naive:,.0f} | {mib / naive:.1f} | {rss(10):.0f} (node) |")
print(f"ratio (naive copy seconds / lifeboat backup + restore seconds): {naive / both:.2f} "
      f"(backup alone {naive / backup:.2f}, restore alone {naive / restore:.2f})")
PY
finish >/dev/null
