#!/usr/bin/env bash
# One damaged object must not block every restore (issue 9, item 8). A truncated index object:
# restore of every backup still works (its packs are read through their footers), copy copies
# everything and names it, expire keeps working without deleting what it cannot judge. A
# truncated manifest: list, report and restore of the other backups carry on and name it; expire
# refuses. `repair` moves the damaged objects aside, rebuilds the index from the packs, and verify
# is clean afterwards.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, v text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
backup_json
FIRST=$BACKUP_ID
FIRST_INDEX=$(ls -tr "$REPO/index" | head -1)
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(20001, 30000) g"
sleep 1  # backup ids are start times to the second
backup_json
SECOND=$BACKUP_ID
q "INSERT INTO t SELECT g, 'late' FROM generate_series(30001, 31000) g"
switch_wal_and_wait
[ "$(ls "$REPO/index" | wc -l)" = 2 ] || fail "expected one index object per backup"
ok "backups $FIRST and $SECOND; $FIRST's index object is $FIRST_INDEX"

count_rows() { psql_on "$RESTORED_CONN" "SELECT count(*) FROM t"; }

# ---- a truncated index object ------------------------------------------------------------------
truncate -s 100 "$REPO/index/$FIRST_INDEX"
restore_into "$T/r1" --backup "$FIRST" --to consistent --start
expect_eq "$(count_rows)" 20000 "rows restored from $FIRST with its index object damaged"
expect_in "$ERR" "^lifeboat: warning: damaged index/$FIRST_INDEX"
stop_server "$T/r1"
restore_into "$T/r2" --to latest --start
expect_eq "$(count_rows)" 31000 "rows restored to latest with an index object damaged"
stop_server "$T/r2"
ok "restores of both backups work with $FIRST's index object truncated: $(head -1 "$ERR")"

expect_exit 6 lb verify --repo "$REPO"
expect_in "$OUT" "PROBLEM index/$FIRST_INDEX"
ok "verify names the damaged index object"

COPY="$T/copy"
expect_exit 0 lb repo-init --repo "$COPY"
expect_exit 6 lb copy --from "$REPO" --to "$COPY" --all --json
expect_one_line_error
expect_eq "$(jq -r '.copied_backups | length' "$OUT")" 2 "backups copied despite the damaged index"
expect_eq "$(jq -r '.damaged[0].object' "$OUT")" "index/$FIRST_INDEX" "damaged object named by copy"
COPY_ERR=$(cat "$ERR")
expect_exit 0 lb verify --repo "$COPY"
ok "copy copies every backup, names the damaged index object and exits 6: $COPY_ERR"

PACKS_BEFORE=$(find "$REPO/data" -type f | sort)
expect_exit 0 lb expire --repo "$REPO" --retention-window 30d --keep-min 2 --json
expect_in "$ERR" "warning: damaged index/$FIRST_INDEX"
expect_eq "$(jq -r '.expired | length' "$OUT")" 0 "backups expired"
[ "$(find "$REPO/data" -type f | sort)" = "$PACKS_BEFORE" ] || fail "expire deleted packs while an index object was damaged"
restore_into "$T/r3" --backup "$FIRST" --to consistent
ok "expire works around the damaged index object without deleting packs"

# ---- a truncated manifest ------------------------------------------------------------------------
truncate -s 60 "$REPO/backups/$SECOND"
expect_exit 6 lb list --repo "$REPO"
expect_one_line_error
expect_in "$OUT" "^$FIRST "
expect_in "$OUT" "^DAMAGED backups/$SECOND: "
expect_in "$ERR" "backups/$SECOND"
expect_exit 6 lb list --repo "$REPO" --json
expect_eq "$(jq -r '[.backups[].id] | join(",")' "$OUT")" "$FIRST" "backups listed by list --json"
expect_eq "$(jq -r '.damaged[0].object' "$OUT")" "backups/$SECOND" "damaged object in list --json"
expect_exit 6 lb report --repo "$REPO" --format json
expect_eq "$(jq -r '.repositories[0].damaged[0].object' "$OUT")" "backups/$SECOND" "damaged object in report"
ok "list and report show $FIRST, name the damaged manifest and exit 6"

COPY2="$T/copy2"
expect_exit 0 lb repo-init --repo "$COPY2"
expect_exit 6 lb copy --from "$REPO" --to "$COPY2" --all --json
expect_one_line_error
expect_eq "$(jq -r '.copied_backups | join(",")' "$OUT")" "$FIRST" "backups copied past a damaged manifest"
expect_in "$OUT" "\"backups/$SECOND\""
expect_exit 0 lb verify --repo "$COPY2"
ok "copy carries the other backup past the damaged manifest, names it and exits 6"

restore_into "$T/r4" --to latest --start
expect_eq "$(count_rows)" 31000 "rows restored to latest from $FIRST with $SECOND's manifest damaged"
expect_in "$ERR" "warning: left out damaged backups/$SECOND"
stop_server "$T/r4"
expect_exit 6 lb restore --repo "$REPO" --backup "$SECOND" --to consistent --target-dir "$T/r5"
expect_one_line_error
expect_in "$ERR" "backup $SECOND cannot be restored: its manifest is damaged"
[ ! -e "$T/r5" ] || [ -z "$(ls -A "$T/r5")" ] || fail "a refused restore left files in $T/r5"
ok "restore of the other backup works; the damaged one is refused in one line"

BEFORE=$(find "$REPO" -type f ! -path '*/locks/*' | sort)
expect_exit 6 lb expire --repo "$REPO" --retention-window 1d --keep-min 1
expect_one_line_error
expect_in "$ERR" "backups/$SECOND is damaged"
[ "$(find "$REPO" -type f ! -path '*/locks/*' | sort)" = "$BEFORE" ] || fail "a refused expire changed the repository"
ok "expire refuses while a manifest is damaged, and changes nothing: $(cat "$ERR")"

# ---- every index object damaged: the packs alone still serve restores -----------------------------
for f in "$REPO"/index/*; do truncate -s 100 "$f"; done
restore_into "$T/r7" --backup "$FIRST" --to consistent --start
expect_eq "$(count_rows)" 20000 "rows restored from $FIRST with every index object damaged"
stop_server "$T/r7"
ok "with every index object truncated, $FIRST restores from the packs' footers"

# ---- repair ---------------------------------------------------------------------------------------
BEFORE=$(find "$REPO" -type f ! -path '*/locks/*' | sort)
WANT_MOVED=$( (echo "backups/$SECOND"; ls "$REPO/index" | sed 's|^|index/|') | sort | paste -sd,)
PACKS=$(find "$REPO/data" -type f | wc -l)
expect_exit 0 lb repair --repo "$REPO" --dry-run --json
[ "$(find "$REPO" -type f ! -path '*/locks/*' | sort)" = "$BEFORE" ] || fail "repair --dry-run changed the repository"
expect_eq "$(jq -r '[.moved_aside[].object] | sort | join(",")' "$OUT")" "$WANT_MOVED" \
    "objects repair --dry-run would move aside"
expect_eq "$(jq -r '.packs_indexed' "$OUT")" "$PACKS" "packs repair --dry-run would index"
expect_exit 0 lb repair --repo "$REPO" --json
expect_eq "$(jq -r '[.moved_aside[] | .object + ">" + .moved_to] | sort | join(",")' "$OUT")" \
    "$(echo "$WANT_MOVED" | tr ',' '\n' | sed 's|.*|&>damaged/&|' | paste -sd,)" "objects moved aside"
expect_eq "$(jq -r '.packs_indexed' "$OUT")" "$PACKS" "packs indexed by repair"
NEW_INDEX=$(jq -r '.new_index' "$OUT")
[ -f "$REPO/index/$NEW_INDEX" ] || fail "repair wrote no index object"
[ -f "$REPO/damaged/index/$FIRST_INDEX" ] && [ -f "$REPO/damaged/backups/$SECOND" ] ||
    fail "repair did not keep the damaged objects under damaged/"
[ ! -e "$REPO/index/$FIRST_INDEX" ] && [ ! -e "$REPO/backups/$SECOND" ] || fail "damaged objects still in place"
expect_eq "$(ls "$REPO/index")" "$NEW_INDEX" "index objects after repair"
ok "repair moved $WANT_MOVED aside and indexed $PACKS pack(s) from their footers in index/$NEW_INDEX"
expect_exit 0 lb verify --repo "$REPO"
expect_in "$OUT" ": OK$"
expect_exit 0 lb list --repo "$REPO"
restore_into "$T/r6" --backup "$FIRST" --to consistent --start
expect_eq "$(count_rows)" 20000 "rows restored from $FIRST after repair"
[ ! -s "$ERR" ] || fail "restore after repair still warns: $(cat "$ERR")"
stop_server "$T/r6"
expect_exit 0 lb repair --repo "$REPO"
expect_in "$OUT" "nothing to repair"
expect_exit 0 lb expire --repo "$REPO" --retention-window 30d --keep-min 2
ok "after repair verify is clean, restores need no workaround, expire works again"
finish
