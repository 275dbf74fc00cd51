#!/usr/bin/env bash
# Quick start, step two: installs every dependency, builds, and runs every test (unit,
# conformance, end-to-end against real PostgreSQL 15 servers, and the benchmark smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j2 "$@"
