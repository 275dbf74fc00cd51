#!/usr/bin/env bash
# Issue 10, item 7: formatting. list's tag column and its "stored" line in an empty repository;
# tags must be printable; pins must end in the future; unpin of an unpinned backup says so; the
# report's heading names a repository once and --format html --json is refused; drills has a
# header and the failure reasons; verify groups damage per file and counts packs, not bytes, in
# its progress; lifeboat-restore.log is never backed up; wal-push sweeps temporaries of killed
# pushes.
source "$(dirname "$0")/lib.sh" "$@"

start_source

# ---- an empty repository: no "0.0x less"
expect_exit 0 lb list --repo "$REPO"
if grep -q "0.0x" "$OUT"; then cat "$OUT" >&2; fail "an empty repository shows 0.0x less"; fi
expect_in "$OUT" "^stored: .* \(no backup yet\)$" "empty repository's stored line"
ok "empty repository: $(grep '^stored' "$OUT")"

# ---- tags must be printable; pins must end in the future (refused before the backup runs)
for tag in $'purpose=night\nly' $'pur\tpose=x' $'x=\x1b[31mred'; do
    expect_exit 2 lb backup --repo "$REPO" --pg "$CONNINFO" --tag "$tag"
    expect_one_line_error
    expect_in "$ERR" "control character" "tag with a control character"
done
expect_exit 2 lb backup --repo "$REPO" --pg "$CONNINFO" --pin --until 2020-01-01T00:00:00Z
expect_one_line_error
expect_in "$ERR" "in the past" "backup --pin --until <past>"
[ -z "$(ls "$REPO/backups")" ] || fail "a refused backup was stored"
ok "refused tags and past pins: $(cat "$ERR")"

# ---- a lifeboat-restore.log in the source (a source that was itself restored) is left out
echo "log of an earlier restore" | as_pg tee "$SRC/lifeboat-restore.log" >/dev/null
backup_json --tag purpose=nightly --tag owner=ops --pin
PINNED=$BACKUP_ID
backup_json --tag purpose=adhoc
PLAIN=$BACKUP_ID
DATA_DIRS+=("$T/restored")
expect_exit 0 lb restore --repo "$REPO" --backup "$PINNED" --to consistent --target-dir "$T/restored"
[ ! -e "$T/restored/lifeboat-restore.log" ] || fail "lifeboat-restore.log was backed up"
ok "lifeboat-restore.log is not backed up"

# ---- list's tag column: one space between markers and tags, no stray commas
expect_exit 0 lb list --repo "$REPO"
line=$(grep "^$PINNED " "$OUT")
[[ "$line" == *"[pinned] owner=ops purpose=nightly" ]] || fail "tag column of $PINNED: '$line'"
if grep -E "\] ,|  ,|, " "$OUT" | grep -q "^$PINNED"; then fail "stray separators: $line"; fi
line=$(grep "^$PLAIN " "$OUT")
[[ "$line" == *"  purpose=adhoc" ]] || fail "tag column of $PLAIN: '$line'"
expect_in "$OUT" "^stored: .*x less\)$|^stored: .*\(no savings yet\)$" "stored line with backups"
ok "list: $(grep "^$PINNED " "$OUT" | sed 's/  */ /g')"

# ---- unpin: of a pinned backup, then of an unpinned one
expect_exit 0 lb unpin "$PINNED" --repo "$REPO"
expect_in "$OUT" "^unpinned $PINNED" "unpin of a pinned backup"
expect_exit 0 lb unpin "$PLAIN" --repo "$REPO"
expect_in "$OUT" "^$PLAIN was not pinned" "unpin of an unpinned backup"
expect_exit 0 lb unpin "$PLAIN" --repo "$REPO" --json
expect_eq "$(jq -r .was_pinned "$OUT")" false "unpin --json was_pinned"
expect_exit 2 lb pin "$PLAIN" --repo "$REPO" --until 2020-01-01T00:00:00Z
expect_one_line_error
ok "unpin of an unpinned backup: says so, exit 0"

# ---- report: heading once; --format html with --json refused
expect_exit 0 lb report --repo "$REPO"
expect_in "$OUT" "^## Repository \`$REPO\`$" "the heading names the repository once"
expect_exit 2 lb report --repo "$REPO" --format html --json
expect_one_line_error
expect_in "$ERR" "--json and --format html" "report --format html --json"
expect_exit 0 lb report --repo "$REPO" --json
jq -e .repositories "$OUT" >/dev/null || fail "report --json is not JSON"
ok "report: heading and --format/--json"

# ---- drills: a header row and the failure reason
cat >"$T/bad.toml" <<'EOC'
[[check]]
name = "users exist"
sql = "SELECT count(*) FROM no_such_table"
expect = "> 0"
EOC
chmod 644 "$T/bad.toml"
switch_wal_and_wait
expect_exit 10 lb drill --repo "$REPO" --latest --checks "$T/bad.toml"
expect_exit 0 lb drills --repo "$REPO"
expect_in "$OUT" "^DRILL +RESULT +TARGET +BACKUP +RTO +REASON$" "drills header"
expect_in "$OUT" "FAILED .*users exist" "drills names the failed check"
ok "drills: $(grep FAILED "$OUT" | sed 's/  */ /g')"

# ---- verify: progress counts packs (not bytes); damage grouped per file
# Progress is shown only on a terminal: script(1) gives verify one.
script -qec "'$LB' verify --repo '$REPO'" /dev/null >"$T/verify.tty" 2>&1 </dev/null || true
if grep -q "checking packs" "$T/verify.tty"; then
    if grep -aE "checking (packs|WAL)[^\r]*(B|KiB|MiB) /" "$T/verify.tty"; then
        fail "verify's progress counts packs as bytes"
    fi
    grep -aqE "checking (packs|WAL) +[0-9]+% \([0-9]+ / [0-9]+\)" "$T/verify.tty" ||
        { cat -v "$T/verify.tty" >&2; fail "verify's progress shows no counts"; }
    ok "verify progress counts packs"
else
    log "verify finished before its first progress line; progress format not checked"
fi

# A missing pack, one holding several blocks of some file (which pack holds which blocks depends
# on how the workers interleaved): the largest packs first.
while read -r _ PACK; do
    mv "$PACK" "$T/pack.saved"
    expect_exit 6 lb verify --repo "$REPO"
    grep -qE "^  affects backup .* file .* \([0-9]+ blocks\)$" "$OUT" && break
    mv "$T/pack.saved" "$PACK"
done < <(find "$REPO/data" -type f -printf '%s %p\n' | sort -rn | head -n 5)
[ -e "$T/pack.saved" ] || mv "$PACK" "$T/pack.saved"
affects=$(grep -c "^  affects " "$OUT" || true)
files=$(grep "^  affects " "$OUT" | sed 's/ ([0-9]* blocks)$//' | sort -u | wc -l)
expect_eq "$affects" "$files" "one 'affects' line per backup file"
grep -qE "^  affects backup .* file .* \([0-9]+ blocks\)$" "$OUT" ||
    { head -c 3000 "$OUT" >&2; fail "no grouped 'affects' line with a block count"; }
ok "verify: $affects 'affects' lines, e.g. $(grep -m1 -E 'blocks\)$' "$OUT")"
mv "$T/pack.saved" "$PACK"

# ---- wal-push sweeps temporaries left by killed pushes
as_pg touch "$REPO/tmp/999999999-0-1"                       # its process is gone
as_pg touch -d '2 days ago' "$REPO/tmp/1-0-1"               # too old, whoever wrote it
q "CREATE TABLE sweep_marker ()"  # new WAL, so that the switch archives a segment
switch_wal_and_wait
[ ! -e "$REPO/tmp/999999999-0-1" ] || fail "temporary of a dead wal-push left"
[ ! -e "$REPO/tmp/1-0-1" ] || fail "a two-day-old temporary left"
ok "wal-push removed stale temporaries"

finish
