#!/usr/bin/env bash
# Quick start, step two: installs every dependency, builds, and runs every test (unit,
# conformance against posix, s3rver and Ceph RGW, end-to-end against real PostgreSQL 15 servers,
# the benchmark smoke run), then the sanitizer builds and the fuzz targets.
# LIFEBOAT_EXTENDED_CHECKS=0 leaves out the sanitizers and fuzzing; LIFEBOAT_FUZZ_SECONDS sets
# each fuzz target's time (default 8 s).
set -euo pipefail
cd "$(dirname "$0")/.."
# libmongoc (linked for the mongodb source) keeps statistics counters in a /dev/shm segment named
# by pid, created when the library loads and removed at a normal exit: the tests kill lifeboat on
# purpose, and a later process meeting a leftover segment of its pid prints a warning on stderr,
# where the tests expect exactly lifeboat's own lines. Counters in plain memory instead.
export MONGOC_DISABLE_SHM=1
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j2 "$@"
cd ..
# The sanitizer builds (unit and conformance tests under ASan+UBSan, the threaded tests under
# TSan) and every fuzz target for a bounded time (docs/architecture.md, "Tests"). Each prints
# its figures (tests run per sanitizer, executions per fuzz target). Only on a full run: a run
# narrowed with ctest arguments is someone checking one thing.
if [ $# -eq 0 ] && [ "${LIFEBOAT_EXTENDED_CHECKS:-1}" = 1 ]; then
  bash scripts/sanitize.sh
  bash scripts/fuzz.sh --seconds "${LIFEBOAT_FUZZ_SECONDS:-8}"
fi
