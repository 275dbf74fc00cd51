#!/usr/bin/env bash
# Quick start, step two: installs every dependency, builds, and runs every test (unit,
# conformance, end-to-end against real PostgreSQL 15 servers, and the benchmark smoke run); with
# LIFEBOAT_EXTENDED_CHECKS=1 also the sanitizer builds and the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j2 "$@"
cd ..
# LIFEBOAT_EXTENDED_CHECKS=1 adds the sanitizer builds (unit and conformance tests under
# ASan+UBSan, the threaded tests under TSan) and every fuzz target for a bounded time
# (docs/architecture.md, "Tests"). Not yet part of the default run: they are not yet green on the
# merged tree (docs/reliability.md, "Fuzzing and sanitizers").
if [ $# -eq 0 ] && [ "${LIFEBOAT_EXTENDED_CHECKS:-0}" = 1 ]; then
  bash scripts/sanitize.sh
  bash scripts/fuzz.sh --seconds "${LIFEBOAT_FUZZ_SECONDS:-15}"
fi
