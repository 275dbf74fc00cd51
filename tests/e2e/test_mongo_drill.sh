#!/usr/bin/env bash
# drill for a mongodb repository (drill --target-mongo URI): (a) against plain CongoDB (no change
# streams): a drill --to consistent restores into a second, empty CongoDB, validates it against
# the backup's record, passes and is listed by `drills` and `report`; a drill into a server that
# is not empty any more is refused (exit 7, nothing recorded: nothing was tested); a drill
# without --target-mongo is refused with one line (exit 2). (b) Through the scripted replica-set
# primary (tests/mongo/capture_primary.py, as test_mongo_capture.sh): a base backup, six captured
# events; a drill to a time between events 3 and 4 passes although the events changed
# shop.orders (its count skipped, samples as the events left them); a restore to that time and
# validate --target-dir pass, and a document changed afterwards on the target makes validate
# fail naming its collection.
source "$(dirname "$0")/lib.sh" "$@"

source "$E2E_DIR/lib_mongo.sh"
/usr/bin/python3 -c 'import mockupdb, pymongo' 2>/dev/null ||
    fail "python3-mockupdb is not installed (scripts/install-deps.sh)"
DOCS=50  # per collection
GAP=1.5  # seconds between scripted events

wait_for() {
    local what=$1
    shift
    for _ in $(seq 1 600); do
        "$@" && return 0
        sleep 0.1
    done
    fail "waited 60 s for $what"
}
event_stored() { ls "$REPO2/wal/changes" 2>/dev/null | grep -q -- "-........$(printf %08X "$1")\$"; }
released() { awk -v n="$1" '$1 == "released" && $2 == n { print $'"$2"' }' "$T/primary.log"; }

# (a) Plain CongoDB, a drill to the backup itself.
start_congodb plain
start_congodb drilled
tool fill "$URI_plain" "$DOCS"
expect_exit 0 lb repo-init --repo "$REPO"
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$URI_plain" --json
PLAIN_ID=$(jq -r .id "$OUT")

expect_exit 2 lb drill --repo "$REPO" --to consistent
expect_one_line_error
expect_in "$ERR" "target-mongo"
expect_exit 0 lb drills --repo "$REPO" --json
expect_eq "$(jq -r 'length' "$OUT")" 0 "drills recorded by a refused drill"
ok "a mongodb drill without --target-mongo is refused with one line"

expect_exit 0 lb drill --repo "$REPO" --to consistent --target-mongo "$URI_drilled" --json
expect_eq "$(jq -r .passed "$OUT")" true "drill --to consistent"
expect_eq "$(jq -r .backup "$OUT")" "$PLAIN_ID" "the drill's backup"
expect_eq "$(jq -r '[.checks[] | select(.kind == "document_count" and .passed)] | length' "$OUT")" 4 \
    "collections counted exactly"
expect_eq "$(jq -r '[.checks[] | select(.kind == "sample_hash" and .passed)] | length' "$OUT")" 4 \
    "collections whose samples hash as recorded"
grep -q "$URI_drilled" "$OUT" && fail "the drill record holds the target's URI"
tool counts "$URI_drilled" | grep -q "^shop.orders $DOCS\$" || fail "shop.orders not restored"

# The same server again: it holds the backup's databases now.
expect_exit 7 lb drill --repo "$REPO" --to consistent --target-mongo "$URI_drilled"
expect_one_line_error
expect_in "$ERR" "not empty"
expect_exit 0 lb drills --repo "$REPO" --json
expect_eq "$(jq -r 'length' "$OUT")" 1 "drills recorded (the refused one is not)"
expect_eq "$(jq -r '.[0].passed' "$OUT")" true "the recorded drill passed"
expect_exit 0 lb drills --repo "$REPO"
expect_in "$OUT" "PASSED +consistent +$PLAIN_ID"
expect_exit 0 lb report --repo "$REPO" --format json
expect_eq "$(jq -r '.repositories[0].drills | length' "$OUT")" 1 "drills in the report"
ok "drill --to consistent into an empty server passes and is listed; into a full one it is refused"

# (b) Through the scripted primary: events after the backup.
REPO2="$T/repo2"
start_congodb source
start_congodb target
start_congodb restored
tool fill "$URI_source" "$DOCS"
mkdir -p "$T/control"
/usr/bin/python3 "$MONGO_DIR/capture_primary.py" "$T/primary.port" "$URI_source" "$T/control" "$GAP" \
    >"$T/primary.log" 2>&1 &
BG_PIDS+=($!)
wait_for "the scripted primary" test -s "$T/primary.port"
PRIMARY="mongodb://127.0.0.1:$(cat "$T/primary.port")/?replicaSet=rs0&serverSelectionTimeoutMS=5000"
expect_exit 0 lb repo-init --repo "$REPO2"
expect_exit 0 lb backup --repo "$REPO2" --source-kind mongodb --mongo "$PRIMARY" --json
BACKUP_ID=$(jq -r .id "$OUT")

rm -f "$T/capture.pid"
as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$REPO2" \
    --source-kind mongodb --mongo "$PRIMARY" --flush-interval 200ms --json \
    >"$T/capture.out" 2>"$T/capture.err" &
BG_PIDS+=($!)
CAPTURE_JOB=$!
wait_for "capture to start" test -s "$T/capture.pid"
wait_for "event 6 stored" event_stored 6
kill -TERM "$(cat "$T/capture.pid")"
wait "$CAPTURE_JOB" || { cat "$T/capture.err" >&2; fail "capture failed on SIGTERM"; }
ok "base backup $BACKUP_ID and six captured events"

W3=$(released 3 3)
W4=$(released 4 3)
TARGET=$(date -u -d "@$(( (W3 + W4) / 2000 )).$(printf %03d $(( (W3 + W4) / 2 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ)
expect_exit 0 lb drill --repo "$REPO2" --to "$TARGET" --target-mongo "$URI_target" --json
expect_eq "$(jq -r .passed "$OUT")" true "drill to $TARGET"
jq -e '.checks[] | select(.kind == "document_count" and .name == "shop.orders" and .skipped)' \
    "$OUT" >/dev/null || fail "shop.orders' count was not skipped: $(jq -c .checks "$OUT")"
jq -r '.checks[] | select(.kind == "document_count" and .name == "shop.orders") | .detail' "$OUT" |
    grep -q "changed by 3 event(s) up to" || fail "shop.orders' count detail: $(jq -c .checks "$OUT")"
expect_eq "$(jq -r '[.checks[] | select(.kind == "document_count" and (.skipped | not) and .passed)] | length' "$OUT")" 3 \
    "untouched collections counted exactly"
ok "a drill to $TARGET (between events 3 and 4) passes against what the events left"

expect_exit 0 lb restore --repo "$REPO2" --backup "$BACKUP_ID" --to "$TARGET" \
    --target-dir "$T/stage" --target-mongo "$URI_restored" --json
expect_eq "$(jq -r .events_applied "$OUT")" 3 "events applied up to $TARGET"
[ -f "$T/stage/restore-record.json" ] || fail "the restore left no restore record"
expect_exit 0 lb validate --repo "$REPO2" --source-kind mongodb --mongo "$URI_restored" \
    --target-dir "$T/stage" --json
expect_eq "$(jq -r .passed "$OUT")" true "validate --target-dir of the restore to $TARGET"
tool change-first "$URI_restored" shop customers
expect_exit 10 lb validate --repo "$REPO2" --source-kind mongodb --mongo "$URI_restored" \
    --target-dir "$T/stage"
expect_one_line_error
expect_in "$OUT" "FAILED +sample_hash shop\.customers"
ok "validate --target-dir passes, and fails naming shop.customers after a change on the target"

finish
