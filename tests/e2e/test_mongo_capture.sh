#!/usr/bin/env bash
# mongodb change capture and restore to a time, against a scripted replica-set primary in front
# of CongoDB (tests/mongo/capture_primary.py: handshake and change stream scripted, every other
# command forwarded to CongoDB, which has no change streams). A base backup through it dumps
# CongoDB's documents and records the scripted stream position; capture stores six scripted
# events about those documents (one every 1.5 s, the last two in one batch), is stopped and
# restarted (the stream resumes after the stored token), survives a dropped connection; restore to
# a time between events 3 and 4 into a fresh CongoDB holds exactly the first three changes;
# latest holds all six; copy carries the change log. Lost history
# (error 286) is stored as a gap, shown by list's window, and capture asks for a new base backup.
# Scripted replies only: no real MongoDB server stores anything here.
source "$(dirname "$0")/lib.sh" "$@"

source "$E2E_DIR/lib_mongo.sh"
/usr/bin/python3 -c 'import mockupdb, pymongo' 2>/dev/null ||
    fail "python3-mockupdb is not installed (scripts/install-deps.sh)"
DOCS=50  # per collection
GAP=1.5  # seconds between scripted events

# wait_for DESCRIPTION COMMAND...: until COMMAND succeeds, 60 s at most.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 1 600); do
        "$@" && return 0
        sleep 0.1
    done
    fail "waited 60 s for $what"
}
# Event N stored: an object ends at its cluster time, whose increment the primary numbers N.
event_stored() { ls "$REPO/wal/changes" 2>/dev/null | grep -q -- "-........$(printf %08X "$1")\$"; }
# More than N change streams opened with resumeAfter so far (counted anew at each call).
streams_opened_above() { [ "$(grep -c '^got aggregate.*resumeAfter' "$T/primary.log")" -gt "$1" ]; }
released() { awk -v n="$1" '$1 == "released" && $2 == n { print $'"$2"' }' "$T/primary.log"; }

start_congodb source
start_congodb target
start_congodb latest
start_congodb quiet
tool fill "$URI_source" "$DOCS"
mkdir -p "$T/control"
/usr/bin/python3 "$MONGO_DIR/capture_primary.py" "$T/primary.port" "$URI_source" "$T/control" "$GAP" \
    >"$T/primary.log" 2>&1 &
BG_PIDS+=($!)
wait_for "the scripted primary" test -s "$T/primary.port"
PRIMARY="mongodb://127.0.0.1:$(cat "$T/primary.port")/?replicaSet=rs0&serverSelectionTimeoutMS=5000"

expect_exit 0 lb repo-init --repo "$REPO"
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY" --json
BACKUP_ID=$(jq -r .id "$OUT")
expect_eq "$(jq -r .files "$OUT")" 4 "collections dumped through the scripted primary"
grep -q "no change stream" "$ERR" && fail "the backup found no change stream"
ok "base backup $BACKUP_ID records the stream's position"

CAPTURES=0
# start_capture: capture in the background; CAPTURE_PID is lifeboat's own pid.
start_capture() {
    CAPTURES=$((CAPTURES + 1))
    CAPTURE_OUT="$T/capture-$CAPTURES.out"
    CAPTURE_ERR="$T/capture-$CAPTURES.err"
    rm -f "$T/capture.pid"
    as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/capture.pid" "$LB" capture --repo "$REPO" \
        --source-kind mongodb --mongo "$PRIMARY" --flush-interval "${1:-200ms}" --json \
        >"$CAPTURE_OUT" 2>"$CAPTURE_ERR" &
    BG_PIDS+=($!)
    CAPTURE_JOB=$!
    wait_for "capture to start" test -s "$T/capture.pid"
    CAPTURE_PID=$(cat "$T/capture.pid")
}
stop_capture() {
    kill -TERM "$CAPTURE_PID"
    local rc=0
    wait "$CAPTURE_JOB" || rc=$?
    [ "$rc" = 0 ] || { cat "$CAPTURE_ERR" >&2; fail "capture ended with status $rc on SIGTERM"; }
    log "capture $CAPTURES: $(jq -c '{objects, events, started_from, stored_end, lag_seconds}' "$CAPTURE_OUT")"
}

# Capture 1: two events, then the connection drops (libmongoc resumes after the token it holds).
start_capture
wait_for "event 1 stored" event_stored 1
touch "$T/control/hangup"
wait_for "the dropped connection" grep -q '^hangup' "$T/primary.log"
wait_for "event 3 stored" event_stored 3
stop_capture
FIRST=$(jq -r .events "$CAPTURE_OUT")
[ "$FIRST" -ge 3 ] || fail "capture 1 stored $FIRST events, expected at least 3"
expect_eq "$(grep -c '^got aggregate.*resumeAfter' "$T/primary.log")" 2 \
    "change streams opened with resumeAfter (the start, and again after the dropped connection)"
ok "capture 1 stored $FIRST events and continued after a dropped connection"

# Capture 2 resumes after the token stored last: that of event $FIRST.
TOKEN=$(released "$FIRST" 5)
start_capture
# Its first change stream is the third opened with resumeAfter (a loaded machine may see the
# driver open another after it, which must not hide the first).
wait_for "capture 2's change stream" streams_opened_above 2
grep '^got aggregate.*resumeAfter' "$T/primary.log" | sed -n 3p | grep -q "\"_data\": \"$TOKEN\"" ||
    fail "capture 2 did not resume after event $FIRST's token $TOKEN"
wait_for "event 6 stored" event_stored 6
# An outage: the connection drops and the driver's next check of the server fails as well; the
# driver then leaves that server alone for 5 s, longer than capture's attempts last, so capture
# opens the stream again through a new client.
AGGREGATES=$(grep -c '^got aggregate.*resumeAfter' "$T/primary.log")
touch "$T/control/outage"
wait_for "the refused check of the server" grep -q '^hello refused' "$T/primary.log"
wait_for "capture 2's stream after the outage" streams_opened_above "$AGGREGATES"
kill -0 "$CAPTURE_PID" 2>/dev/null || fail "capture 2 ended at the outage: $(cat "$CAPTURE_ERR")"
stop_capture
# Through the old client every attempt within the driver's 5 s would have been refused so.
grep -q "No servers yet eligible" "$CAPTURE_ERR" &&
    fail "capture retried through a client that would not check the server yet: $(cat "$CAPTURE_ERR")"
expect_eq "$(jq -r .events "$CAPTURE_OUT")" "$((6 - FIRST))" "events stored by capture 2"
# Events 5 and 6 came in one batch: one object holds both.
ls "$REPO/wal/changes" | grep -q -- "^........00000004-........00000006\$" ||
    fail "events 5 and 6 (one batch) are not one object: $(ls "$REPO/wal/changes" | tr '\n' ' ')"
ok "capture 2 resumed after the stored token, stored the rest, and outlived an outage"

# The lag of each event: stored (the object's push time) minus its wallTime.
log "capture lag (stored time minus event wallTime), max per run: run 1 $(jq -c .lag_seconds "$T/capture-1.out"), run 2 $(jq -c .lag_seconds "$T/capture-2.out")"
[ "$(jq '.lag_seconds.max < 5' "$T/capture-2.out")" = true ] || fail "capture lag above 5 s"

expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r .window.gap "$OUT")" false "window gap"
[ "$(jq -r .window.latest "$OUT")" != null ] || fail "the window has no latest time"
expect_exit 0 lb verify --repo "$REPO"
ok "the window reaches the newest event; verify checks the objects"

# Restore to a time between events 3 and 4 (their wall times, 1.5 s apart).
W3=$(released 3 3)
W4=$(released 4 3)
TARGET=$(date -u -d "@$(( (W3 + W4) / 2000 )).$(printf %03d $(( (W3 + W4) / 2 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ)
expect_exit 0 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to "$TARGET" \
    --target-dir "$T/stage" --target-mongo "$URI_target" --json
expect_eq "$(jq -r .events_applied "$OUT")" 3 "events applied up to $TARGET"
tool docs "$URI_target" shop orders >"$T/orders.target"
D1=$(released 2 7)
D2=$(released 3 7)
D3=$(released 6 7)
expect_eq "$(wc -l <"$T/orders.target")" "$DOCS" "shop.orders documents (one inserted, one deleted)"
expect_in "$T/orders.target" '"_id":{"\$oid":"65f000000000000000000001"},"key":"new1","v":1}'
grep -q 65f000000000000000000002 "$T/orders.target" && fail "event 4 (after the target) applied"
grep -q "$D2" "$T/orders.target" && fail "event 3 (a delete) not applied"
grep -q "$D3" "$T/orders.target" || fail "event 6 (after the target) applied"
grep "$D1" "$T/orders.target" | grep '"v":100' | grep '"a":42' | grep -vq '"text"' ||
    fail "event 2 (an update) not applied: $(grep "$D1" "$T/orders.target")"
tool counts "$URI_target" | grep -q "^shop.customers $DOCS\$" || fail "shop.customers not restored"
ok "restore to $TARGET holds the base plus events 1-3 exactly"

expect_exit 0 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to latest \
    --target-dir "$T/stage-latest" --target-mongo "$URI_latest" --json
expect_eq "$(jq -r .events_applied "$OUT")" 6 "events applied to latest"
tool docs "$URI_latest" shop orders >"$T/orders.latest"
expect_in "$T/orders.latest" '"_id":{"\$oid":"65f000000000000000000001"},"key":"new1","v":2}'
expect_in "$T/orders.latest" '"_id":{"\$oid":"65f000000000000000000002"},"key":"new2","v":1}'
grep -q "$D3" "$T/orders.latest" && fail "event 6 (a delete) not applied"
ok "restore to latest applies all six events"

# A quiet stream: the server's token moves on (the script is all out), and capture stores it
# after 60 flush intervals (3 s at 50 ms) so the resume point stays inside the history.
quiet_token_stored() { ls "$REPO/wal/changes" 2>/dev/null | grep -q -- "-........00000000\$"; }
start_capture 50ms
wait_for "a quiet resume token stored" quiet_token_stored
stop_capture
[ "$(jq -r .quiet_tokens "$CAPTURE_OUT")" -ge 1 ] || fail "capture reports no quiet token: $(cat "$CAPTURE_OUT")"
expect_eq "$(jq -r .events "$CAPTURE_OUT")" 0 "events stored while quiet"
QUIET=$(ls "$REPO/wal/changes" | grep -- "-........00000000\$" | tail -n 1)
AGGREGATES=$(grep -c '^got aggregate.*resumeAfter' "$T/primary.log")
start_capture
wait_for "the capture after the quiet token" streams_opened_above "$AGGREGATES"
stop_capture
grep '^got aggregate.*resumeAfter' "$T/primary.log" | tail -n 1 | grep -q "\"_data\": \"82${QUIET#*-}" ||
    fail "capture did not resume after the quiet token of $QUIET"
expect_exit 0 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to latest \
    --target-dir "$T/stage-quiet" --target-mongo "$URI_quiet" --json
expect_eq "$(jq -r .events_applied "$OUT")" 6 "events applied to latest over the quiet token"
ok "a quiet stream's advancing token is stored ($QUIET) and capture resumes after it"

# copy carries the change log with the backup; the copy restores to the same window.
expect_exit 0 lb list --repo "$REPO" --json
LATEST=$(jq -r .window.latest "$OUT")
expect_exit 0 lb repo-init --repo "$T/copy"
expect_exit 0 lb copy --from "$REPO" --to "$T/copy" --all
expect_exit 0 lb list --repo "$T/copy" --json
expect_eq "$(jq -r .window.latest "$OUT")" "$LATEST" "the copy's window"
expect_exit 0 lb verify --repo "$T/copy"
ok "copy carries the change log (window to $LATEST)"

# History lost: the server refuses the stored token (error 286).
touch "$T/control/lost"
expect_exit 9 lb capture --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY" --flush-interval 200ms
expect_one_line_error
expect_in "$ERR" "new base backup"
expect_in "$ERR" "\.gap"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r .window.gap "$OUT")" true "window gap after lost history"
jq -r .window.first_missing_segment "$OUT" | grep -q '^changes/.*\.gap$' ||
    fail "the window does not name the gap: $(jq -c .window "$OUT")"
expect_exit 9 lb capture --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY"
expect_one_line_error
expect_in "$ERR" "new base backup"
ok "lost history is stored as a gap, shown by the window; capture asks for a new base backup"

# A new base backup: capture continues from it.
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$PRIMARY" --json
AGGREGATES=$(grep -c '^got aggregate.*resumeAfter' "$T/primary.log")
start_capture
wait_for "capture after the new backup" streams_opened_above "$AGGREGATES"
stop_capture
ok "capture continues from a new base backup"

finish
