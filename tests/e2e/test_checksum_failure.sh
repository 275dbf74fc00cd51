#!/usr/bin/env bash
# A page whose data checksum fails on the source is reported by backup (exit 10), naming the
# relation file and block; the backup itself is kept.
source "$(dirname "$0")/lib.sh" "$@"

start_source
[ "$(q "SHOW data_checksums")" = on ] || fail "the source cluster has no data checksums"
# autovacuum off for the table: nothing may read the damaged page before the backup does
# (a read would only fail, but keep the server log quiet and the test deterministic).
q "CREATE TABLE victim (id int PRIMARY KEY, v text NOT NULL) WITH (autovacuum_enabled = off)"
q "INSERT INTO victim SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 2000) g"
q "CREATE TABLE bystander (id int PRIMARY KEY)"
q "INSERT INTO bystander SELECT generate_series(1, 1000)"
q "VACUUM (FREEZE, ANALYZE) victim"
q "CHECKPOINT"
REL=$(q "SELECT pg_relation_filepath('victim')")
PAGES=$(q "SELECT pg_relation_size('victim') / 8192")
[ "$PAGES" -gt 1 ] || fail "victim should span several pages"
ok "victim in $REL ($PAGES pages)"

stop_server "$SRC"
# A byte of tuple data in the middle of block 0 (tuples fill a page from its end; at offset 4000
# of a full page there is row data, not free space).
python3 - "$SRC/$REL" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    page = bytearray(f.read(8192))
    lower = int.from_bytes(page[12:14], "little")
    upper = int.from_bytes(page[14:16], "little")
    assert lower <= 4000 and upper <= 4000, f"offset 4000 is not tuple data (pd_lower {lower}, pd_upper {upper})"
    page[4000] ^= 0x55
    f.seek(0)
    f.write(page)
EOF
start_server "$SRC"
ok "flipped byte 4000 of block 0 of $REL; server restarted"

RC=0
lb backup --repo "$REPO" --pg "$CONNINFO" --json >"$OUT" 2>"$ERR" || RC=$?
cp "$OUT" "$T/backup.json"
cp "$ERR" "$T/backup.err"
if [ "$RC" != 10 ]; then
    cat "$OUT" "$ERR" >&2
    fail "backup of a cluster with a bad page checksum exits $RC, expected 10"
fi
ok "backup exits 10"

grep -q '^lifeboat: error: ' "$T/backup.err" || { cat "$T/backup.err" >&2; fail "no 'lifeboat: error:' line"; }
[ "$(grep -c '^lifeboat: error: ' "$T/backup.err")" = 1 ] || { cat "$T/backup.err" >&2; fail "more than one error line"; }
expect_in "$T/backup.err" "$REL" "stderr should name the relation file $REL"
expect_in "$T/backup.err" "$REL block 0([^0-9]|$)" "stderr should name block 0 of $REL"
jq -e --arg p "$REL" '.page_checksum_failures == [{"path": $p, "block": 0}]' "$T/backup.json" >/dev/null ||
    { cat "$T/backup.json" >&2; fail "backup --json should list exactly {path: $REL, block: 0} in page_checksum_failures"; }
BACKUP_ID=$(jq -r .id "$T/backup.json")
ok "stderr and JSON name $REL block 0: $(grep -m1 warning "$T/backup.err")"

# The backup is kept (it is a faithful copy of a damaged source), and listed.
expect_exit 0 lb list --repo "$REPO" --json
jq -e --arg id "$BACKUP_ID" '[.backups[].id] == [$id]' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "list should show backup $BACKUP_ID"; }
expect_exit 0 lb verify --repo "$REPO"
ok "backup $BACKUP_ID is kept and verifies (the repository is intact)"

# Without the damage, a backup passes again: only the damaged page is reported.
stop_server "$SRC"
python3 - "$SRC/$REL" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4000)
    b = f.read(1)
    f.seek(4000)
    f.write(bytes([b[0] ^ 0x55]))
EOF
start_server "$SRC"
backup_json
jq -e '.page_checksum_failures == []' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "a clean cluster reported checksum failures"; }
expect_eq "$(q "SELECT count(*) FROM victim")" 2000 "rows of victim once repaired"
ok "after repairing the byte, backup $BACKUP_ID exits 0 with no failures"
finish
