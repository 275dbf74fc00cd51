#!/usr/bin/env bash
# The mongodb source end to end against CongoDB (tests/mongo: a MongoDB wire-protocol server in
# TypeScript, no change streams, no replica set): preflight says what is missing, a backup of
# 100k documents over four collections (nested documents, arrays, binary, decimal128, dates),
# list, verify, restore into a second CongoDB, validate passes; a second restore into the same
# server is refused; a document changed after the restore makes validate fail naming the
# collection; --only restores one collection into a third server; copy, verify of the copy and
# report work for the kind. Change capture and restores to a time are not tested (no change streams).
source "$(dirname "$0")/lib.sh" "$@"

source "$E2E_DIR/lib_mongo.sh"
DOCS=${MONGO_DOCS:-25000}  # per collection; four collections


start_congodb source
start_congodb target
REPO="$T/repo"
log "filling the source with $((DOCS * 4)) documents"
tool fill "$URI_source" "$DOCS"
tool counts "$URI_source" >"$T/source.counts"
expect_in "$T/source.counts" "^shop.orders $DOCS\$"

# Preflight: a standalone server without change streams, said on one line with exit 10.
expect_exit 10 lb mongo-preflight --mongo "$URI_source"
expect_one_line_error
expect_in "$OUT" "not a replica set"
expect_in "$OUT" "modifyChangeStreams"
expect_in "$ERR" "can be backed up but not captured"
ok "preflight names what is missing"

expect_exit 0 lb repo-init --repo "$REPO"
# LIFEBOAT_MONGO is how the URI may be given too.
expect_exit 0 as_pg env LIFEBOAT_MONGO="$URI_source" "$LB" backup --repo "$REPO" --source-kind mongodb --json
BACKUP_ID=$(jq -r .id "$OUT")
[ -n "$BACKUP_ID" ] && [ "$BACKUP_ID" != null ] || fail "backup printed no id"
expect_eq "$(jq -r .source_kind "$OUT")" mongodb "backup's source kind"
expect_eq "$(jq -r .files "$OUT")" 4 "collections dumped"
expect_in "$ERR" "no change stream"
ok "backup $BACKUP_ID of $((DOCS * 4)) documents"

expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '.backups[0].id' "$OUT")" "$BACKUP_ID" "list"
expect_exit 0 lb verify --repo "$REPO"
ok "list and verify"

# A second backup of an unchanged source stores (almost) nothing new.
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$URI_source" --json
expect_eq "$(jq -r .new_blocks "$OUT")" 0 "new blocks of an unchanged second backup"
ok "an unchanged second backup is deduplicated"

expect_exit 0 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to consistent \
    --target-dir "$T/stage" --target-mongo "$URI_target"
tool counts "$URI_target" >"$T/target.counts"
diff "$T/source.counts" "$T/target.counts" >&2 || fail "restored counts differ from the source's"
ok "restored into a second CongoDB"

expect_exit 7 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to consistent \
    --target-dir "$T/stage2" --target-mongo "$URI_target"
expect_one_line_error
expect_in "$ERR" "not empty"
ok "a non-empty target is refused"

expect_exit 0 lb validate --repo "$REPO" --source-kind mongodb --mongo "$URI_target" \
    --backup "$BACKUP_ID" --json
expect_eq "$(jq -r .passed "$OUT")" true "validate of the restore"
expect_eq "$(jq '[.checks[] | select(.kind == "document_count" and .passed)] | length' "$OUT")" 4 \
    "document counts checked"
expect_eq "$(jq '[.checks[] | select(.kind == "indexes" and .passed)] | length' "$OUT")" 4 \
    "index specifications checked"
expect_eq "$(jq '[.checks[] | select(.kind == "sample_hash" and .passed)] | length' "$OUT")" 4 \
    "sample hashes checked"
ok "validate passes"

# --only: one collection into a third server; other kinds' options are refused.
start_congodb only
expect_exit 0 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to consistent \
    --target-dir "$T/stage3" --target-mongo "$URI_only" --only audit.events
tool counts "$URI_only" >"$T/only.counts"
expect_eq "$(cat "$T/only.counts")" "audit.events $DOCS" "--only audit.events restored alone"
expect_exit 1 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to consistent \
    --target-dir "$T/stage4" --target-mongo "$URI_only" --only shop.nothing
expect_one_line_error
# No change capture yet: a time after the backup is outside the window.
expect_exit 0 lb list --repo "$REPO" --json
STOP=$(jq -r --arg id "$BACKUP_ID" '.backups[] | select(.id == $id) | .stop_time' "$OUT")
AFTER=$(date -u -d "$STOP + 1 second" +%Y-%m-%dT%H:%M:%S.%6NZ)
expect_exit 9 lb restore --repo "$REPO" --backup "$BACKUP_ID" --to "$AFTER" \
    --target-dir "$T/stage5" --target-mongo "$URI_only" --only shop
expect_one_line_error
ok "--only restores one collection; an unknown one and a time after the backup are refused"

# The repository-level commands work for this kind: copy, report, expire.
expect_exit 0 lb repo-init --repo "$T/copy"
expect_exit 0 lb copy --from "$REPO" --to "$T/copy" --all
expect_exit 0 lb list --repo "$T/copy" --json
expect_eq "$(jq '.backups | length' "$OUT")" 2 "backups copied"
expect_exit 0 lb verify --repo "$T/copy"
expect_exit 0 lb report --repo "$REPO" --format json
expect_eq "$(jq -r '.. | .kind? // empty' "$OUT" | sort -u | grep -c mongodb)" 1 "report names the kind"
ok "copy, verify of the copy and report"

tool change-first "$URI_target" shop orders
expect_exit 10 lb validate --repo "$REPO" --source-kind mongodb --mongo "$URI_target"
expect_one_line_error
expect_in "$OUT" "FAILED +sample_hash shop\.orders"
expect_in "$OUT" "^FAILED \(1 of"
ok "a changed document makes validate fail naming shop.orders"

finish
