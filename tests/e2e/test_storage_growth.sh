#!/usr/bin/env bash
# Storage growth. Ten incremental backups of an unchanged database add almost nothing (the bytes
# are reported); and with a retention of 3 backups under a steady write load, the repository stops
# growing once retention is in steady state.
source "$(dirname "$0")/lib.sh" "$@"

stored() { lb list --repo "$REPO" --json | jq .stored_bytes; }

start_source
as_pg pgbench -i -s 5 -q "$CONNINFO" >"$T/pgbench-init.log" 2>&1 || { cat "$T/pgbench-init.log" >&2; fail "pgbench -i failed"; }
q "CHECKPOINT"
backup_json
FULL=$(stored)
ADDED=()
for i in $(seq 1 10); do
    before=$(stored)
    backup_json
    ADDED+=($(( $(stored) - before )))
done
TOTAL_ADDED=$(( $(stored) - FULL ))
log "full backup: $FULL bytes stored; each unchanged incremental added: ${ADDED[*]} bytes (total $TOTAL_ADDED)"
# Each adds its manifest, index and the WAL segment it switched to (about 0.4% of the full backup
# here); allow an average of 1% each.
[ "$TOTAL_ADDED" -lt $(( FULL / 10 )) ] || fail "ten unchanged backups added $TOTAL_ADDED bytes, over 10% of the first ($FULL)"

SIZES=()
for cycle in $(seq 1 12); do
    as_pg pgbench -n -t 300 "$CONNINFO" >/dev/null
    backup_json
    expect_exit 0 lb expire --repo "$REPO" --retention-window 0 --keep-min 3 --json
    SIZES+=($(stored))
done
log "repository size after each backup + expire (keep 3): ${SIZES[*]}"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq '.backups | length' "$OUT")" 3 "backups retained"
# Steady state from the fourth cycle on: later sizes stay within 10% of the largest early one.
EARLY=0
for s in "${SIZES[@]:3:3}"; do [ "$s" -gt "$EARLY" ] && EARLY=$s; done
for s in "${SIZES[@]:6}"; do
    [ "$s" -le $(( EARLY * 11 / 10 )) ] || fail "the repository kept growing: ${SIZES[*]}"
done
expect_exit 0 lb verify --repo "$REPO"
finish
