#!/usr/bin/env bash
# Configures and builds Lifeboat (Release with debug info, Ninja, ccache when present) into
# ./build. Usage: scripts/build.sh [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C build -j"$(nproc)" "$@"
