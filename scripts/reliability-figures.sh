#!/usr/bin/env bash
# Regenerates the figures table of docs/reliability.md (between `<!-- figures:begin -->` and
# `<!-- figures:end -->`) from the reliability tests: the crash matrix and expire's crash test,
# the in-process storage-fault tests, the S3 fault proxy, the corruption sweep, the fuzzers
# (bounded) and the sanitizer runs.
#
# Usage: scripts/reliability-figures.sh [--logs DIR] [--fuzz-seconds N] [--binary LIFEBOAT]
#   without --logs: runs every test (needs ./build built; root or the postgres account, as the
#   e2e tests do), keeping each output in build/reliability-logs/<name>.log, then writes the table;
#   with --logs DIR: reads DIR/<name>.log from an earlier run (CI artifacts) and runs nothing.
# Log names: crash_matrix, expire_crash, engine_faults, s3_fault_proxy, corruption_sweep, fuzz,
# sanitize. A missing log is shown as "not run"; a failed test fails this script after the table
# is written (its row says FAILED).
set -euo pipefail
cd "$(dirname "$0")/.."

logs=""
fuzz_seconds=15
binary="$PWD/build/src/cli/lifeboat"
while [ $# -gt 0 ]; do
    case "$1" in
        --logs) logs=$2; shift 2 ;;
        --fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        *) echo "usage: $0 [--logs DIR] [--fuzz-seconds N] [--binary LIFEBOAT]" >&2; exit 2 ;;
    esac
done

started=$SECONDS
failed=()
origin="ran here"
if [ -n "$logs" ]; then origin="read from earlier logs"; fi
if [ -z "$logs" ]; then
    logs=build/reliability-logs
    mkdir -p "$logs"
    run() {  # run NAME CMD...: output to $logs/NAME.log, status recorded at its end
        local name=$1 rc=0 t=$SECONDS
        shift
        echo "reliability-figures: running $name..." >&2
        "$@" >"$logs/$name.log" 2>&1 || rc=$?
        echo "rc=$rc seconds=$((SECONDS - t))" >>"$logs/$name.log"
        [ "$rc" = 0 ] || failed+=("$name")
    }
    run crash_matrix bash tests/e2e/test_crash_matrix.sh "$binary"
    run expire_crash bash tests/e2e/test_expire_crash.sh "$binary"
    run engine_faults build/tests/unit_tests --gtest_filter='EngineFaultTest.*'
    run s3_fault_proxy bash tests/e2e/test_s3_fault_proxy.sh "$binary"
    run corruption_sweep bash tests/e2e/test_corruption_sweep.sh "$binary"
    run fuzz bash scripts/fuzz.sh --seconds "$fuzz_seconds"
    run sanitize bash scripts/sanitize.sh
fi

python3 - "$logs" docs/reliability.md "$((SECONDS - started))" "$origin" <<'EOF'
import datetime
import os
import re
import sys

logs, doc, elapsed, origin = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def read(name):
    path = os.path.join(logs, name + ".log")
    return open(path, errors="replace").read() if os.path.exists(path) else None


def status(text):
    """'' when the run passed (or its status is unknown), else ' (FAILED)'."""
    m = re.findall(r"^rc=(\d+)", text, re.M)
    return " (FAILED)" if m and m[-1] != "0" else ""


rows = []
bad = []


def row(what, text, value, source):
    if text is None:
        value = "not run"
    elif status(text):
        value += status(text)
        bad.append(what)
    rows.append(f"| {what} | {value} | {source} |")


t = read("crash_matrix")
v = ""
if t:
    m = re.search(r"^(\d+) crash points, (\d+) survived", t, re.M)
    v = f"{m.group(1)} crash points (SIGKILL and process-group kill), {m.group(2)} survived" if m else "no count printed"
row("crash points in backup, wal-push, copy, restore", t, v, "`e2e/test_crash_matrix.sh`")

t = read("expire_crash")
v = ""
if t:
    n = len(re.findall(r"ok: killed at \w+: verify passes", t))
    v = f"{n} stages killed, {n} survived" if n else "no count printed"
row("crash points in expire", t, v, "`e2e/test_expire_crash.sh`")

t = read("engine_faults")
v = ""
if t:
    tried = survived = 0
    for m in re.finditer(r"(\d+) fault points tried[^,]*, (\d+) survived", t):
        tried += int(m.group(1))
        survived += int(m.group(2))
    inj = abs_ = clean = none = 0
    for m in re.finditer(r"(\d+) injected, (\d+) absorbed, (\d+) failed cleanly, (\d+) without effect", t):
        inj += int(m.group(1)); abs_ += int(m.group(2)); clean += int(m.group(3)); none += int(m.group(4))
    v = (f"{tried} fault points tried, {survived} survived; by kind (error, timeout, reset, "
         f"503 SlowDown, short read, ENOSPC): {inj} injected, {abs_} absorbed by retries, "
         f"{clean} failed cleanly (exit 5), {none} without effect")
row("storage faults in-process (backup, restore, copy, expire, verify, wal-push)", t, v,
    "`unit/engine_fault_test.cpp`")

t = read("s3_fault_proxy")
v = ""
if t:
    m = re.search(r"(\d+) injected, (\d+) absorbed, (\d+) commands failed cleanly", t)
    v = (f"{m.group(1)} faults injected (resets, 503 SlowDown, delays, truncated bodies); "
         f"{m.group(2)} absorbed by retries (every command succeeded, data exact); "
         f"{m.group(3)} commands met an outage and failed cleanly (exit 13, one line)") if m else "no count printed"
row("storage faults through an S3 fault proxy", t, v, "`e2e/test_s3_fault_proxy.sh`")

t = read("corruption_sweep")
v = ""
if t:
    m = re.search(r"flips (\d+), detected (\d+) \(([\d.]+)%\), named (\d+); restores tried (\d+): "
                  r"refused (\d+), equal (\d+), silently different (\d+)", t)
    v = (f"{m.group(1)} flips, {m.group(2)} detected ({m.group(3)}%), {m.group(4)} named; "
         f"{m.group(5)} restores: {m.group(6)} refused, {m.group(7)} equal, "
         f"{m.group(8)} silently different") if m else "no count printed"
row("one-byte flips over every kind of object", t, v, "`e2e/test_corruption_sweep.sh`")

t = read("fuzz")
v = ""
if t:
    m = re.search(r"fuzz: (\d+) targets, (\d+) executions, (\d+) failed", t)
    secs = re.search(r"executions in (\d+)s", t)
    v = (f"{m.group(1)} targets, {int(m.group(2)):,} executions"
         f"{' (' + secs.group(1) + ' s each)' if secs else ''}, {m.group(3)} failed") if m else "no count printed"
row("fuzzing (libFuzzer, ASan+UBSan)", t, v, "`scripts/fuzz.sh`")

t = read("sanitize")
v = ""
if t:
    parts = [f"{m.group(1)} {m.group(2)}: {m.group(3)} tests, {m.group(4)} passed"
             for m in re.finditer(r"sanitize: (\w+): (\w+): (\d+) tests ran, (\d+) passed", t)]
    v = "; ".join(parts) + (", no sanitizer report" if parts else "no count printed")
row("sanitizers", t, v, "`scripts/sanitize.sh`")

today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
table = "\n".join([
    "<!-- figures:begin -->",
    f"Figures from one run of `scripts/reliability-figures.sh` ({today}; tests {origin}"
    + (f", {elapsed // 60} min" if origin == "ran here" else "") + "):",
    "",
    "| what | figures | test |",
    "| --- | --- | --- |",
    *rows,
    "<!-- figures:end -->",
])
text = open(doc).read()
begin, end = "<!-- figures:begin -->", "<!-- figures:end -->"
if begin in text and end in text:
    text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Figures\n\n" + table + "\n"
open(doc, "w").write(text)
print(table)
if bad:
    print("reliability-figures: FAILED: " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
if [ ${#failed[@]} -gt 0 ]; then
    echo "reliability-figures: failed: ${failed[*]} (logs in $logs)" >&2
    exit 1
fi
