#!/usr/bin/env bash
# Damage in the repository is found by verify, named, and never restored from: a restore that
# meets a damaged block fails and leaves no half-restored instance; a damaged WAL object is not
# served by wal-fetch.
source "$(dirname "$0")/lib.sh" "$@"

# flip_byte FILE OFFSET: XOR one byte with 0xff, in place.
flip_byte() {
    python3 - "$1" "$2" <<'EOF'
import sys
path, offset = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(offset)
    b = f.read(1)
    f.seek(offset)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

start_source
q "CREATE TABLE items (id serial PRIMARY KEY, payload text NOT NULL)"
# Incompressible-ish rows so the packs hold real data.
q "INSERT INTO items (payload) SELECT md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 50000) g"
backup_json
ok "backup $BACKUP_ID"
q "INSERT INTO items (payload) VALUES ('after the backup')"
switch_wal_and_wait

expect_exit 0 lb verify --repo "$REPO"
expect_in "$OUT" "OK" "verify should report OK"
ok "verify of the intact repository: $(tail -n 1 "$OUT")"

# ---- a damaged pack
read -r PACK_SIZE PACK < <(find "$REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n 1)
[ -n "${PACK:-}" ] || fail "no pack file in $REPO/data"
PACK_ID=$(basename "$PACK")
OFFSET=$(( PACK_SIZE / 2 ))
SHA_BEFORE=$(sha256sum "$PACK" | cut -d' ' -f1)
flip_byte "$PACK" "$OFFSET"
[ "$(sha256sum "$PACK" | cut -d' ' -f1)" != "$SHA_BEFORE" ] || fail "the byte flip did not change $PACK"
log "flipped byte $OFFSET of pack $PACK_ID ($PACK_SIZE bytes)"

expect_exit 6 lb verify --repo "$REPO"
expect_in "$OUT" "$BACKUP_ID" "verify's report should name the affected backup $BACKUP_ID"
expect_in "$OUT" "$PACK_ID" "verify's report should name the damaged pack $PACK_ID"
expect_in "$OUT" "DAMAGED" "verify should say DAMAGED"
expect_one_line_error
ok "verify exits 6 and names the pack and the backup: $(grep -m1 PROBLEM "$OUT")"

expect_exit 6 lb verify --repo "$REPO" --backup "$BACKUP_ID" --json
jq -e '.ok == false and (.problems | length) > 0' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "verify --backup --json should list problems"; }
jq -e --arg pack "$PACK_ID" --arg id "$BACKUP_ID" \
    '[.problems[] | select((.object | contains($pack)) and ([.affected[] | contains($id)] | any))] | length > 0' "$OUT" >/dev/null ||
    { cat "$OUT" >&2; fail "verify --json problems should name pack $PACK_ID affecting backup $BACKUP_ID"; }
ok "verify --backup $BACKUP_ID --json lists $(jq '.problems | length' "$OUT") problem(s)"

X="$T/restore-from-damaged"
DATA_DIRS+=("$X")
expect_failure lb restore --repo "$REPO" --to latest --target-dir "$X"
expect_one_line_error
expect_in "$ERR" "$PACK_ID|damaged|does not match" "restore's error should name the damaged pack or block"
if [ -e "$X" ] && [ -n "$(ls -A "$X")" ]; then
    ls -la "$X" >&2
    fail "a failed restore left a half-restored instance in $X"
fi
ok "restore from the damaged pack fails ($RC), leaves nothing behind: $(cat "$ERR")"

# The same, into an existing empty directory: it must stay (empty).
X2="$T/restore-from-damaged-2"
as_pg mkdir "$X2"
DATA_DIRS+=("$X2")
expect_failure lb restore --repo "$REPO" --to latest --target-dir "$X2" --start
[ -d "$X2" ] && [ -z "$(ls -A "$X2")" ] || fail "a failed restore into an empty directory left files in $X2"
ok "restore into an existing empty directory fails ($RC) and leaves it empty"

# Repair the pack (put the byte back) so the next part tests WAL damage alone.
flip_byte "$PACK" "$OFFSET"
expect_exit 0 lb verify --repo "$REPO"

# ---- a missing pack: the same damage, one step further
as_pg mv "$PACK" "$T/pack.saved"
expect_exit 6 lb verify --repo "$REPO"
expect_in "$OUT" "$BACKUP_ID" "verify's report should name the affected backup"
X4="$T/restore-missing-pack"
expect_failure lb restore --repo "$REPO" --to latest --target-dir "$X4"
expect_one_line_error
expect_in "$ERR" "$PACK_ID" "restore's error should name the missing pack"
[ ! -e "$X4" ] || fail "a failed restore left $X4 behind"
# Exit 1 means "a named thing does not exist" (and, for wal-fetch, "not archived"); a pack the
# index promises but the repository lacks is damage, like a damaged block (6, docs/cli.md).
[ "$RC" = 6 ] || [ "$RC" = 5 ] ||
    defer_fail "restore with a pack missing from the repository exits $RC, expected 6 (corrupt) or 5 (repository): $(cat "$ERR")"
ok "a missing pack: verify exits 6, restore fails ($RC) and leaves nothing"
as_pg mv "$T/pack.saved" "$PACK"
expect_exit 0 lb verify --repo "$REPO"

# ---- a damaged WAL object
# The segment holding the post-backup commit, i.e. the last one archived.
WAL_NAME=$(q "SELECT last_archived_wal FROM pg_stat_archiver")
WAL_OBJ="$REPO/wal/${WAL_NAME:0:16}/$WAL_NAME"
[ -f "$WAL_OBJ" ] || fail "no WAL object at $WAL_OBJ"
expect_exit 0 lb wal-fetch --repo "$REPO" "$WAL_NAME" "$T/fetched-ok"
flip_byte "$WAL_OBJ" $(( $(stat -c %s "$WAL_OBJ") / 2 ))
log "flipped a byte in the middle of WAL object $WAL_NAME"

as_pg rm -f "$T/fetched"
expect_failure lb wal-fetch --repo "$REPO" "$WAL_NAME" "$T/fetched"
RC_FETCH=$RC
log "wal-fetch of the damaged $WAL_NAME exits $RC: $(cat "$ERR")"
expect_one_line_error
expect_in "$ERR" "$WAL_NAME" "wal-fetch's error should name the WAL file"
[ ! -e "$T/fetched" ] || fail "wal-fetch of a damaged object wrote $T/fetched"
# docs/cli.md: every wal-fetch failure other than "not archived" exits 128, because PostgreSQL
# reads 1..125 from restore_command as "not archived" and would end recovery early.
[ "$RC" -gt 125 ] || fail "wal-fetch of a damaged object exits $RC; PostgreSQL would take 1..125 as 'not archived' and end recovery early (docs/cli.md promises 128)"
ok "wal-fetch refuses the damaged object (exit $RC) and writes nothing"

expect_exit 6 lb verify --repo "$REPO"
expect_in "$OUT" "$WAL_NAME" "verify should name the damaged WAL object"
ok "verify exits 6 and names $WAL_NAME"

# A restore that needs the damaged segment must not quietly end recovery before it: the segment
# holds the only commit after the backup, so a silent stop would lose that row.
X3="$T/restore-damaged-wal"
DATA_DIRS+=("$X3")
RC=0
lb restore --repo "$REPO" --to latest --target-dir "$X3" --port "$(free_port)" --start --json >"$OUT" 2>"$ERR" || RC=$?
if [ "$RC" = 0 ]; then
    CONN3=$(jq -r .conninfo "$OUT")
    GOT=$(psql_on "$CONN3" "SELECT count(*) FROM items WHERE payload = 'after the backup'")
    stop_server "$X3" || true
    fail "restore --to latest with damaged WAL segment $WAL_NAME succeeded (exit 0) and the restored instance has $GOT of 1 rows committed in that segment: recovery silently ended early (wal-fetch exits $RC_FETCH < 126, which PostgreSQL takes as 'not archived')"
fi
ok "restore --to latest needing the damaged WAL segment fails ($RC): $(head -n 1 "$ERR")"
expect_in "$ERR" "$WAL_NAME" "restore's error should name the damaged WAL segment"
# Errors are one line on stderr (docs/cli.md).
if [ "$(wc -l <"$ERR")" != 1 ]; then
    defer_fail "restore whose recovery aborts prints a $(wc -l <"$ERR")-line error (the server log's tail) instead of one line: $(head -n 1 "$ERR")"
fi
finish
