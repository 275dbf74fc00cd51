#!/usr/bin/env bash
# Builds the unit and conformance tests with AddressSanitizer + UBSan (./build-asan) and the unit
# tests of threaded code with ThreadSanitizer (./build-tsan, target thread_tests), both with g++,
# and runs them: every unit and conformance test under ASan+UBSan, and under TSan the tests that
# run code on several threads (block pipeline, restore workers, parallel_for, locks, concurrent
# WAL pushes, S3 retries).
# Any sanitizer report aborts the test binary and fails the run.
# Usage: scripts/sanitize.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

kinds=("$@")
if [ ${#kinds[@]} -eq 0 ]; then kinds=(asan tsan); fi

# The suites whose tests run code on several threads at once.
tsan_filter='BlockWriterTest.*:ParallelFor*.*:Lock*.*:WalArchiveTest.Concurrent*:WalArchiveTest.*Race*'
tsan_filter+=':RestoreConfinement*.*:S3Retry*.*:RepositoryLock*.*:FetchRanges*.*:WriteFileBlocks*.*'
tsan_filter+=':DirectWriteTest.*:DurableRestoreTest.*:WalSpoolTest.*:ScatteredReadAhead.*'
# The 2,000-manifest confinement fuzz run is single-threaded and slow under TSan.
tsan_filter+='-RestoreConfinementTest.FuzzedHostileManifestsNeverEscape'

# -O1 -g1 (line tables only): what the sanitizers' authors recommend for readable reports, and
# about half the compile time of -O2 -g (15.3 s -> 8.2 s for engine/copy.cpp under ASan), which
# matters because CI builds these from scratch. For the same reason the libraries compile in
# batches (CMAKE_UNITY_BUILD: the engine's 15 files in 37 s of CPU instead of 66 s); the tests
# always compile file by file (tests/CMakeLists.txt).
configure() {  # dir sanitizers
  if [ ! -f "$1/build.ninja" ]; then
    cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIFEBOAT_SANITIZE="$2" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DLIFEBOAT_BENCH=OFF \
      -DCMAKE_UNITY_BUILD=ON >/dev/null
  fi
}

# run_tests BINARY [gtest options]: runs one test binary, prints how many tests ran and passed
# (the figures docs/reliability.md quotes) and fails when any test or sanitizer check failed.
run_tests() {
  local binary=$1 log rc=0
  shift
  log=$(mktemp)
  "$binary" --gtest_brief=1 "$@" >"$log" 2>&1 || rc=$?
  if [ $rc != 0 ]; then
    tail -n 60 "$log" >&2
    rm -f "$log"
    echo "sanitize: $kind: $(basename "$binary") FAILED (status $rc)" >&2
    exit 1
  fi
  local ran passed skipped
  ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran\..*/\1/p' "$log" | tail -1)
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$log" | tail -1)
  skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\?.*/\1/p' "$log" | tail -1)
  rm -f "$log"
  echo "sanitize: $kind: $(basename "$binary"): ${ran:-?} tests ran, ${passed:-?} passed, ${skipped:-0} skipped, no sanitizer report"
}

for kind in "${kinds[@]}"; do
  start=$SECONDS
  case "$kind" in
    asan)
      configure build-asan address,undefined
      ninja -C build-asan -j"$(nproc)" tests/unit_tests tests/conformance_tests
      # Leak checking stays on: a leak fails the run like any other report.
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
      # The retry-absorption variants of the fault-injection test repeat the error paths the
      # fault-point tests already take under ASan, with real servers and minutes of run time:
      # they run in the main suite only.
      run_tests build-asan/tests/unit_tests --gtest_filter='-EngineFaultTest.*Absorbs*'
      run_tests build-asan/tests/conformance_tests
      ;;
    tsan)
      configure build-tsan thread
      # Only the test files holding those suites (tests/CMakeLists.txt, thread_tests).
      ninja -C build-tsan -j"$(nproc)" tests/thread_tests
      export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
      run_tests build-tsan/tests/thread_tests --gtest_filter="$tsan_filter"
      ;;
    *)
      echo "sanitize: unknown kind '$kind' (asan or tsan)" >&2
      exit 2
      ;;
  esac
  echo "sanitize: $kind clean in $((SECONDS - start)) s"
done
