#!/usr/bin/env bash
# copy and verify of streamed WAL (issue 15, item 1's "verify, copy ... understand both"): copy
# carries the stream's chunks and its recorded gaps (wal-stream-gaps/), so the copy's window
# ends where the source's does and shows the same gap; verify checks the chunks, and names a
# chunk that lies after a hole in its segment's chunks (WAL no restore can reach).
# The gap record is written by the test (as wal-stream writes it when its slot was invalidated:
# test_wal_stream_slot_safety.sh and test_agent_wal_stream.sh make a real one), to keep this short.
source "$(dirname "$0")/lib.sh" "$@"

SLOT=lb_copy
start_source
q "CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)"
backup_json

as_pg bash -c 'echo $$ >"$0"; exec "$@"' "$T/stream.pid" "$LB" wal-stream --repo "$REPO" --pg "$CONNINFO" \
    --slot "$SLOT" --reconnect-timeout 0s --json >"$T/stream.out" 2>"$T/stream.err" &
STREAM_JOB=$!
BG_PIDS+=($STREAM_JOB)
for _ in $(seq 1 100); do [ -s "$T/stream.pid" ] && break; sleep 0.1; done
STREAM_PID=$(cat "$T/stream.pid")
for _ in $(seq 1 300); do
    [ "$(q "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'), false)")" = t ] && break
    kill -0 "$STREAM_PID" 2>/dev/null || { cat "$T/stream.err" >&2; fail "wal-stream ended at start"; }
    sleep 0.1
done
# (pg_walfile_name of a segment boundary names the segment before it: asked after a write)
q "INSERT INTO items VALUES (0, 'first')"
SEG=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
chunk_count() { { find "$REPO/wal/stream/$SEG" -type f 2>/dev/null || true; } | wc -l; }
# Three commits, each stored as its own chunk (the next waits until the previous is stored).
for i in 1 2 3; do
    before=$(chunk_count)
    q "INSERT INTO items VALUES ($i, 'streamed')"
    for _ in $(seq 1 100); do [ "$(chunk_count)" -gt "$before" ] && break; sleep 0.05; done
done
kill -TERM "$STREAM_PID"
wait "$STREAM_JOB" || fail "wal-stream's status after SIGTERM"
[ "$(chunk_count)" -ge 3 ] || fail "expected 3 chunks of $SEG, found $(chunk_count)"

# A gap after the backup, as wal-stream records one: timeline 1 from the current position.
GAP_FROM=$(q "SELECT lpad(upper(to_hex((pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint)), 16, '0')")
as_pg mkdir -p "$REPO/wal-stream-gaps"
as_pg bash -c "echo 'WAL gap recorded by wal-stream (test)' >'$REPO/wal-stream-gaps/00000001-$GAP_FROM-0000000000000000'"
expect_exit 0 lb list --repo "$REPO" --json
cp "$OUT" "$T/list-source.json"
jq -e '.window.gap == true' "$T/list-source.json" >/dev/null || fail "the source's window shows no gap: $(jq -c .window "$T/list-source.json")"
expect_exit 0 lb verify --repo "$REPO" --json
ok "source: $(chunk_count) chunks of $SEG, a gap at $GAP_FROM; verify passes"

# ---- copy: chunks and gap records go along; the copy's window is the source's
REPO2="$T/repo2"
expect_exit 0 lb repo-init --repo "$REPO2"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
expect_eq "$(jq -r .stream_gaps_copied "$OUT")" 1 "stream_gaps_copied"
[ -f "$REPO2/wal-stream-gaps/00000001-$GAP_FROM-0000000000000000" ] || fail "the gap record was not copied"
expect_eq "$(find "$REPO2/wal/stream/$SEG" -type f | wc -l)" "$(chunk_count)" "chunks in the copy"
expect_exit 0 lb list --repo "$REPO2" --json
for field in gap first_missing_segment latest; do
    expect_eq "$(jq -r ".window.$field" "$OUT")" "$(jq -r ".window.$field" "$T/list-source.json")" "the copy's window.$field"
done
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --json
expect_eq "$(jq -r .stream_gaps_copied "$OUT")" 0 "stream_gaps_copied of a second copy"
expect_exit 0 lb verify --repo "$REPO2" --json
ok "copy carried $(chunk_count) chunks and the gap: the copy's window is the source's ($(jq -c '.window | {gap, first_missing_segment}' "$T/list-source.json"))"

# ---- verify: a chunk lost from the middle of a segment is named
FIRST=$(cd "$REPO2/wal" && find "stream/$SEG" -type f | sort | head -n 1)
as_pg rm -f "$REPO2/wal/$FIRST"
expect_exit 6 lb verify --repo "$REPO2"
expect_in "$OUT" "reach offset 0 without a hole" "verify names the chunks after the hole"
ok "verify names the chunks after a hole in $SEG"
finish
