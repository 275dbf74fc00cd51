#!/usr/bin/env bash
# Issue 9, item 9: a repository must not be able to make restore write outside --target-dir.
# Forged manifests (valid envelope and checksum) with `..` and absolute paths, a write through a
# link, and a setuid mode are refused with one line (exit 6, naming the entry), nothing is written
# anywhere, and `verify` names every such entry.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh" "$@"
TOOL="python3 $HERE/manifest_tool.py"

start_source
q "CREATE TABLE t (id int PRIMARY KEY)"
q "INSERT INTO t SELECT generate_series(1, 100)"
backup_json
ok "backup $BACKUP_ID"

$TOOL dump "$REPO" "$BACKUP_ID" >"$T/manifest.json"
# A small real file: its blocks are in the repository, so the forged entries are restorable data.
SMALL=$(jq -c '[.entries[] | select(.type == "file" and .size > 0 and .size < 65536)][0]' "$T/manifest.json")
[ "$SMALL" != null ] || fail "no small file in the manifest"
mkdir -p "$T/outside"
chown -R "$(stat -c %u "$T")" "$T/outside"

# forge ID JQ-FILTER: publish a copy of the real manifest, changed by the filter, as backup ID.
FORGED=()
forge() {
    local id=$1 filter=$2
    jq --arg id "$id" --argjson small "$SMALL" --arg t "$T" ".id = \$id | $filter" "$T/manifest.json" |
        $TOOL write "$REPO" "$id"
    if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$REPO/backups/$id"; fi
    FORGED+=("$id")
}
forge "${BACKUP_ID}_91" '.entries += [$small + {path: "../escape_file"}]'
forge "${BACKUP_ID}_92" '.entries += [$small + {path: ($t + "/abs_escape")}]'
forge "${BACKUP_ID}_93" '.entries += [{path: "evil", type: "link", target: ($t + "/outside")},
                                      $small + {path: "evil/passwd"}]'
forge "${BACKUP_ID}_94" '.entries += [$small + {path: "setuid_file", mode: 2541}]'
forge "${BACKUP_ID}_95" '.entries += [{path: "../escape_dir", type: "dir", mode: 448}]'
forge "${BACKUP_ID}_96" '.entries += [{path: "pg_tblspc/77", type: "link", target: "/"},
                                      $small + {path: "pg_tblspc/77/escape"}]'

check_refused() {
    local id=$1 entry=$2 dir=$3
    shift 3
    expect_one_line_error
    expect_in "$ERR" "entry '$entry'" "the error names the entry $entry"
    [ ! -e "$dir" ] || { ls -la "$dir" >&2; fail "restore of $id left $dir behind"; }
    # Whatever the forged entries name, anywhere: ../ climbs from the target, so look everywhere.
    leftover=$( { [ -e /escape ] && echo /escape; } || true)
    leftover+=$(find "$T" \( -name 'escape*' -o -name abs_escape -o -name setuid_file \
        -o -path "$T/outside/*" \) -print)
    [ -z "$leftover" ] || fail "restore of $id wrote outside its target: $leftover"
    ok "backup $id refused: $(cat "$ERR")"
}

n=0
for case in "91 ../escape_file" "92 $T/abs_escape" "93 evil/passwd" "95 ../escape_dir" \
    "96 pg_tblspc/77"; do
    set -- $case
    n=$((n + 1))
    expect_exit 6 lb restore --repo "$REPO" --backup "${BACKUP_ID}_$1" --to consistent \
        --target-dir "$T/r$n/data"
    check_refused "${BACKUP_ID}_$1" "$2" "$T/r$n/data"
done

# As root (restore does not need a server account without --start): mode 04755 would have given a
# setuid-root file.
expect_exit 6 "$LB" restore --repo "$REPO" --backup "${BACKUP_ID}_94" --to consistent \
    --target-dir "$T/rsuid/data"
check_refused "${BACKUP_ID}_94" setuid_file "$T/rsuid/data"
[ -z "$(ls -A "$REPO/locks")" ] || fail "a lock was left behind: $(ls "$REPO/locks")"

# verify names every forged entry and exits 6.
expect_exit 6 lb verify --repo "$REPO" --json
cp "$OUT" "$T/verify.json"
for id in "${FORGED[@]}"; do
    jq -e --arg key "backups/$id" '[.problems[] | select(.object == $key and
        (.message | test("must never be restored")))] | length >= 1' "$T/verify.json" >/dev/null ||
        { cat "$T/verify.json" >&2; fail "verify does not report the unsafe entry of $id"; }
done
ok "verify reports the unsafe entries of ${#FORGED[@]} forged backups"

# The real backup still restores, into a 0700 directory.
restore_into "$T/good/data" --backup "$BACKUP_ID" --to consistent
expect_eq "$(stat -c %a "$T/good/data")" 700 "mode of the restored data directory"
[ -f "$T/good/data/PG_VERSION" ] || fail "the real backup was not restored"
ok "the real backup restores"
finish
