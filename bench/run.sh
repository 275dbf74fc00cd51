#!/usr/bin/env bash
# Benchmark of Lifeboat against pgBackRest. See docs/performance.md.
#
#   bench/run.sh [--scale N] [--reps N] [--quick] [--keep] [--datasets pgbench,business]
#                [--write-seconds N] [--lifeboat PATH]
#
# Installs what it needs (Debian packages, idempotently), builds lifeboat unless --lifeboat PATH
# names a binary, then runs bench/bench.py, which writes bench/results/<timestamp>.{md,json}.
# Exit status: 0 when every step ran and every PITR check found the right data (targets are
# reported as PASS/MISS, not asserted); 1 when a step failed; 2 on bad usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

lifeboat=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --lifeboat) lifeboat=${2:?--lifeboat needs a path}; shift 2 ;;
        --lifeboat=*) lifeboat=${1#--lifeboat=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

bash scripts/install-deps.sh pgbackrest zstd time
if [ -z "$lifeboat" ]; then
    build_log=$(mktemp)
    if ! bash scripts/build.sh lifeboat >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        rm -f "$build_log"
        echo "bench/run.sh: building lifeboat failed" >&2
        exit 1
    fi
    rm -f "$build_log"
    lifeboat="$root/build/src/cli/lifeboat"
fi

exec python3 "$root/bench/bench.py" --lifeboat "$lifeboat" "${args[@]}"
