#!/usr/bin/env bash
# wal-push is idempotent for identical content and refuses, without overwriting, different
# content under an archived name; wal-fetch reports "not archived" as exit 1.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, v text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
switch_wal_and_wait
NAME=$(q "SELECT last_archived_wal FROM pg_stat_archiver")
OBJ="$REPO/wal/${NAME:0:16}/$NAME"
[ -f "$OBJ" ] || fail "archived segment $NAME is not at $OBJ"
SHA=$(sha256sum "$OBJ" | cut -d' ' -f1)
MTIME=$(stat -c %Y.%s "$OBJ")
ok "segment $NAME archived by the server's archive_command"

OTHER="$T/elsewhere"
as_pg mkdir -p "$OTHER"
expect_exit 0 lb wal-fetch --repo "$REPO" "$NAME" "$OTHER/$NAME"
expect_eq "$(stat -c %s "$OTHER/$NAME")" 16777216 "size of the fetched segment"
cmp -s "$OTHER/$NAME" "$SRC/pg_wal/$NAME" 2>/dev/null || log "note: $NAME is no longer in pg_wal to compare with (recycled)"
ok "wal-fetch $NAME"

# The same content again, from another directory: success, nothing rewritten.
expect_exit 0 lb wal-push --repo "$REPO" "$OTHER/$NAME"
[ ! -s "$ERR" ] || { cat "$ERR" >&2; fail "wal-push of identical content printed to stderr"; }
expect_eq "$(sha256sum "$OBJ" | cut -d' ' -f1)" "$SHA" "sha256 of the stored object after pushing identical content"
expect_eq "$(stat -c %Y.%s "$OBJ")" "$MTIME" "mtime.size of the stored object after pushing identical content"
ok "pushing identical content again exits 0 and leaves the object alone"

# One byte different, same name: refused with 7, nothing overwritten.
as_pg cp "$OTHER/$NAME" "$OTHER/$NAME.orig"
python3 - "$OTHER/$NAME" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(16777216 - 100)    # the zero-filled end of a switched segment
    b = f.read(1)
    f.seek(16777216 - 100)
    f.write(bytes([b[0] ^ 0x01]))
EOF
cmp -s "$OTHER/$NAME" "$OTHER/$NAME.orig" && fail "the byte flip did not change the file"
expect_exit 7 lb wal-push --repo "$REPO" "$OTHER/$NAME"
expect_one_line_error
expect_in "$ERR" "refus" "stderr should say it refuses"
expect_in "$ERR" "$NAME" "stderr should name the segment"
expect_eq "$(sha256sum "$OBJ" | cut -d' ' -f1)" "$SHA" "sha256 of the stored object after a refused push"
ok "pushing different content exits 7: $(cat "$ERR")"

# A different byte in the WAL records themselves (not just the zero tail): still a conflict (7).
as_pg cp "$OTHER/$NAME.orig" "$OTHER/$NAME"
python3 - "$OTHER/$NAME" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8192 + 3000)
    b = f.read(1)
    f.seek(8192 + 3000)
    f.write(bytes([b[0] ^ 0x01]))
EOF
expect_exit 7 lb wal-push --repo "$REPO" "$OTHER/$NAME"
expect_one_line_error
expect_eq "$(sha256sum "$OBJ" | cut -d' ' -f1)" "$SHA" "sha256 of the stored object after a refused push"
ok "pushing a segment with a changed record exits 7"

# A shorter file under the same name: refused (as malformed, 6, or as a conflict, 7).
as_pg truncate -s 8192 "$OTHER/$NAME"
expect_failure lb wal-push --repo "$REPO" "$OTHER/$NAME"
[ "$RC" = 6 ] || [ "$RC" = 7 ] || { cat "$ERR" >&2; fail "wal-push of a truncated segment exits $RC, expected 6 or 7"; }
expect_one_line_error
expect_eq "$(sha256sum "$OBJ" | cut -d' ' -f1)" "$SHA" "sha256 of the stored object after a refused push"
ok "pushing a truncated segment under the same name exits $RC: $(cat "$ERR")"

# The original still fetches byte for byte.
as_pg rm -f "$OTHER/again"
expect_exit 0 lb wal-fetch --repo "$REPO" "$NAME" "$OTHER/again"
cmp -s "$OTHER/again" "$OTHER/$NAME.orig" || fail "the fetched segment differs from the original after refused pushes"
ok "the stored segment is unchanged"

# Not archived: exit 1 (PostgreSQL's "file not found"), nothing written.
MISSING="0000000100000000000000FE"
expect_exit 1 lb wal-fetch --repo "$REPO" "$MISSING" "$OTHER/missing"
expect_one_line_error
[ ! -e "$OTHER/missing" ] || fail "wal-fetch of a missing segment created the destination"
expect_exit 1 lb wal-fetch --repo "$REPO" 00000005.history "$OTHER/missing.history"
ok "wal-fetch of names not archived exits 1: $(cat "$ERR")"

# Not a WAL file name: usage (2).
as_pg bash -c "echo hello >'$OTHER/garbage'"
expect_exit 2 lb wal-push --repo "$REPO" "$OTHER/garbage"
expect_one_line_error
ok "wal-push of 'garbage' exits 2: $(cat "$ERR")"

# The server's archiver never failed along the way.
FAILED=$(q "SELECT failed_count FROM pg_stat_archiver")
expect_eq "$FAILED" 0 "pg_stat_archiver.failed_count"
finish
