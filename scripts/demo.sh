#!/usr/bin/env bash
# Quick start, step one: installs every dependency, builds, and runs `lifeboat demo` (a throwaway
# PostgreSQL backed up, written to, restored to a point in time into a new instance, validated).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh lifeboat
exec ./build/src/cli/lifeboat demo "$@"
