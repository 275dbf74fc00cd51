#!/usr/bin/env bash
# The quick start's main job must work and report a validated point-in-time restore.
set -euo pipefail
LIFEBOAT=${1:?usage: test_demo.sh /path/to/lifeboat}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$LIFEBOAT" demo --json >"$out"
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["validation_passed"] is True, r
assert r["rows_at_target"] < r["rows_at_end"], r
assert r["backup"]["stored_bytes"] > 0 and r["backup"]["data_bytes"] > r["backup"]["stored_bytes"], r
phases = r["restore"]
assert phases["total_seconds"] >= phases["replay_seconds"] > 0, r
print("demo: validated restore to", r["target"], "RTO", phases["total_seconds"], "s")
PY
# Nothing may be left running: the demo stops every server it started.
if pgrep -f "lifeboat-demo-.*/(source|restored)" >/dev/null; then
  echo "FAIL: a demo server is still running" >&2
  exit 1
fi
echo "1 passed, 0 failed"
