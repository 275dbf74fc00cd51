#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang 16 + AddressSanitizer + UBSan into
# ./build-fuzz and runs each one for a bounded time over its seed corpus.
# Usage: scripts/fuzz.sh [--seconds N] [target...]   (default: 15 s for every target; CI, through
# scripts/test.sh, gives each 20 s)
# Prints the executions of each target; a crash, leak, sanitizer report or timeout fails the run
# and leaves the input that caused it in build-fuzz/artifacts/ (replay: build-fuzz/tests/fuzz/
# <target> <file>). Inputs found during the run go to build-fuzz/corpus/<target>/, never into the
# committed seeds (tests/fuzz/corpus/); copy interesting ones there by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=15
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(ls tests/fuzz/corpus))
fi

if [ ! -f build-fuzz/build.ninja ]; then
  # -O1 -g1: fast enough to fuzz, readable reports, half the compile time of -O2 -g; the
  # libraries compile in batches (CMAKE_UNITY_BUILD), as in scripts/sanitize.sh.
  CC=clang-16 CXX=clang++-16 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DLIFEBOAT_FUZZ=ON -DLIFEBOAT_SANITIZE=address,undefined -DLIFEBOAT_TESTS=OFF \
    -DLIFEBOAT_BENCH=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
fi
ninja -C build-fuzz -j"$(nproc)" fuzz_all

# addr2line symbolises reports (Debian's clang-16 does not bring llvm-symbolizer).
export ASAN_OPTIONS="allow_addr2line=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:allow_addr2line=1:${UBSAN_OPTIONS:-}"
mkdir -p build-fuzz/artifacts build-fuzz/logs
failed=()
total=0
for target in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$target"
  log="build-fuzz/logs/$target.log"
  # -malloc_limit_mb: no input of a few KiB may make a parser allocate hundreds of MiB.
  if "build-fuzz/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target-" \
      "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
    status=clean
  else
    status=FAILED
    failed+=("$target")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  total=$((total + ${runs:-0}))
  printf 'fuzz: %-24s %10s executions in %ss: %s\n' "$target" "${runs:-?}" "$seconds" "$status"
  if [ "$status" = FAILED ]; then
    grep -E 'ERROR|runtime error|SUMMARY|#[0-9]+ 0x|Test unit written' "$log" | head -40 || true
  fi
done
echo "fuzz: ${#targets[@]} targets, $total executions, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs in build-fuzz/artifacts/, logs in build-fuzz/logs/)" >&2
  exit 1
fi
