#!/usr/bin/env bash
# A mongodb backup splits a large collection into _id ranges dumped on parallel connections
# (--split-table-mib, here 1 MiB against CongoDB's collStats size) and keeps a small one whole;
# the backup's JSON gives each collection's ranges (ceil(size / 1 MiB)); restored into a second
# CongoDB, every collection holds exactly the source's documents (same count and the same hash
# over all documents in _id order: none missed, none twice) and validate passes. With splitting
# off (LIFEBOAT_SPLIT_TABLE_MIB=0) every collection is one range and restores the same.
# CongoDB accepts ObjectId _ids only: mixed _id types are covered by the unit tests
# (tests/unit/mongodb_ranges_test.cpp).
source "$(dirname "$0")/lib.sh" "$@"

source "$E2E_DIR/lib_mongo.sh"
DOCS=${MONGO_DOCS:-6000}  # per collection; four collections

# ranges_of DB.COLL: the ranges the last backup's JSON ($OUT) gives the collection.
ranges_of() {
    jq -r --arg n "$1" '.mongodb.collections[] | select(.database + "." + .name == $n) | .ranges' "$OUT"
}

start_congodb source
start_congodb target
start_congodb whole
log "filling the source with $((DOCS * 4)) documents and a small collection"
tool fill "$URI_source" "$DOCS"
tool insert "$URI_source" tiny few 20
tool digest "$URI_source" >"$T/source.digest"
expect_in "$T/source.digest" "^audit.blobs $DOCS "
expect_in "$T/source.digest" "^tiny.few 20 "

expect_exit 0 lb repo-init --repo "$REPO"
expect_exit 0 lb backup --repo "$REPO" --source-kind mongodb --mongo "$URI_source" \
    --split-table-mib 1 --jobs 4 --json
SPLIT_ID=$(jq -r .id "$OUT")
expect_eq "$(jq -r .files "$OUT")" 5 "collections dumped"
for coll in audit.blobs audit.events shop.orders shop.customers; do
    size=$(tool size "$URI_source" "${coll%%.*}" "${coll#*.}")
    want=$(( (size + 1048575) / 1048576 ))
    [ "$want" -ge 2 ] || fail "$coll has $size bytes, too few to be split at 1 MiB (raise MONGO_DOCS)"
    expect_eq "$(ranges_of "$coll")" "$want" "ranges of $coll ($size bytes)"
done
expect_eq "$(ranges_of tiny.few)" 1 "ranges of a small collection"
expect_eq "$(jq '[.mongodb.collections[].documents] | add' "$OUT")" $((DOCS * 4 + 20)) \
    "documents dumped"
ok "backup $SPLIT_ID split the four large collections into $(ranges_of audit.blobs) ranges (audit.blobs) and others"

expect_exit 0 lb verify --repo "$REPO"
expect_exit 0 lb restore --repo "$REPO" --backup "$SPLIT_ID" --to consistent \
    --target-dir "$T/stage" --target-mongo "$URI_target"
tool digest "$URI_target" >"$T/target.digest"
diff "$T/source.digest" "$T/target.digest" >&2 ||
    fail "the restore of the split backup differs from the source"
expect_exit 0 lb validate --repo "$REPO" --source-kind mongodb --mongo "$URI_target" \
    --backup "$SPLIT_ID" --json
expect_eq "$(jq -r .passed "$OUT")" true "validate of the split backup's restore"
expect_eq "$(jq '[.checks[] | select(.kind == "document_count" and .passed)] | length' "$OUT")" 5 \
    "document counts checked"
expect_eq "$(jq '[.checks[] | select(.kind == "sample_hash" and .passed)] | length' "$OUT")" 5 \
    "sample hashes checked"
ok "the split backup restores every document once and validates"

# Splitting off through the environment: one range each, the same documents.
expect_exit 0 as_pg env LIFEBOAT_SPLIT_TABLE_MIB=0 "$LB" backup --repo "$REPO" \
    --source-kind mongodb --mongo "$URI_source" --jobs 4 --json
WHOLE_ID=$(jq -r .id "$OUT")
expect_eq "$(jq '[.mongodb.collections[] | select(.ranges != 1)] | length' "$OUT")" 0 \
    "collections split with LIFEBOAT_SPLIT_TABLE_MIB=0"
expect_exit 0 lb restore --repo "$REPO" --backup "$WHOLE_ID" --to consistent \
    --target-dir "$T/stage2" --target-mongo "$URI_whole"
tool digest "$URI_whole" >"$T/whole.digest"
diff "$T/source.digest" "$T/whole.digest" >&2 || fail "the restore of the unsplit backup differs"
expect_exit 0 lb validate --repo "$REPO" --source-kind mongodb --mongo "$URI_whole" \
    --backup "$WHOLE_ID"
ok "without splitting every collection is one range and restores the same"

finish
