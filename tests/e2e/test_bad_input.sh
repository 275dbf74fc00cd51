#!/usr/bin/env bash
# Bad input gets exactly one line "lifeboat: error: ..." on stderr and the documented exit status;
# settings come from flags, LIFEBOAT_* variables and --config files.
source "$(dirname "$0")/lib.sh" "$@"

# expect_error CODE CMD...: CMD exits CODE with exactly one line "lifeboat: error: ..." on stderr.
expect_error() {
    expect_exit "$@"
    expect_one_line_error
    [ ! -s "$OUT" ] || { cat "$OUT" >&2; fail "an error printed to stdout: ${*:2}"; }
    ok "exit $1: ${*:2} -> $(cat "$ERR")"
}

lb repo-init --repo "$REPO" >/dev/null
as_pg mkdir "$T/empty" "$T/junk"
as_pg bash -c "echo not a repository >'$T/junk/notes.txt'; mkdir '$T/junk/data'"
X="$T/target"

# ---- help
expect_exit 0 lb --help
expect_in "$OUT" "Usage: lifeboat" "lifeboat --help should print usage"
expect_exit 0 lb backup --help
expect_in "$OUT" "--repo" "lifeboat backup --help should list --repo"
expect_exit 0 lb restore --help
ok "--help exits 0"

# ---- not a repository (4)
expect_error 4 lb list --repo /nonexistent
expect_error 4 lb list --repo "$T/empty"
expect_error 4 lb list --repo "$T/junk"
expect_error 4 lb verify --repo "$T/junk"
expect_error 4 lb restore --repo "$T/empty" --to latest --target-dir "$X"

# ---- database (8)
expect_error 8 lb backup --repo "$REPO" --pg "host=127.0.0.1 port=1 connect_timeout=2"
expect_error 8 lb backup --repo "$REPO" --pg "host=$T port=1 connect_timeout=2"

# ---- usage (2)
expect_error 2 lb restore --repo "$REPO" --to 2026-13-45T00:00:00Z --target-dir "$X"
expect_error 2 lb restore --repo "$REPO" --to 2026-11-26T25:00:00Z --target-dir "$X"
expect_error 2 lb restore --repo "$REPO" --to "2026-11-26 08:00:00" --target-dir "$X"
expect_error 2 lb list --repo "$REPO" --no-such-flag
expect_error 2 lb frobnicate
expect_error 2 lb
expect_error 2 lb list
expect_error 2 lb backup --repo "$REPO"
expect_error 2 lb backup --repo "$REPO" --pg "host=$T" --tag novalue
expect_error 2 lb backup --repo "$REPO" --pg "host=$T" --jobs many
expect_error 2 lb restore --repo "$REPO" --to latest --target-dir "$X" --tablespace notanoid
expect_error 2 lb restore --repo "$REPO" --to latest --target-dir "$X" --port 70000
expect_error 2 lb restore --repo "$REPO" --to latest
[ ! -e "$X" ] || fail "a refused restore created $X"

# ---- outside the window (9): no backup yet
expect_error 9 lb restore --repo "$REPO" --to latest --target-dir "$X"
expect_in "$ERR" "no backup" "the message should say the repository holds no backup"
expect_error 9 lb restore --repo "$REPO" --to 2026-01-01T00:00:00Z --target-dir "$X"
[ ! -e "$X" ] || fail "a refused restore created $X"

# ---- not found (1)
expect_error 1 lb verify --repo "$REPO" --backup 20200101T000000Z

# ---- conflict (7)
expect_error 7 lb repo-init --repo "$REPO"
expect_error 7 lb repo-init --repo "$T/junk"
[ -f "$T/junk/notes.txt" ] || fail "repo-init touched a non-empty directory"

# ---- configuration (3)
expect_error 3 lb list --config "$T/missing.toml"
expect_in "$ERR" "missing.toml" "the message should name the missing file"
as_pg bash -c "printf '[repository]\npath = \"%s\"\n\n[performance]\njobs = = 2\n' '$REPO' >'$T/bad.toml'"
expect_error 3 lb list --config "$T/bad.toml"
expect_in "$ERR" "bad\.toml:5" "the message should name the file and line 5"
as_pg bash -c "printf '[repository]\npath = \"%s\"\ncolour = \"blue\"\n' '$REPO' >'$T/unknown.toml'"
expect_error 3 lb list --config "$T/unknown.toml"
expect_in "$ERR" "unknown\.toml:3" "the message should name the file and line 3"
expect_in "$ERR" "colour" "the message should name the unknown setting"
expect_error 3 as_pg env LIFEBOAT_CONFIG="$T/missing.toml" "$LB" list --repo "$REPO"

# ---- settings from the environment and from a config file
expect_exit 0 as_pg env LIFEBOAT_REPO="$REPO" "$LB" list
expect_in "$OUT" "repository $REPO" "list via LIFEBOAT_REPO should name the repository"
expect_exit 0 as_pg env LIFEBOAT_REPO="$REPO" "$LB" list --json
jq -e --arg r "$REPO" '.backups == [] and (.repository | contains($r))' "$OUT" >/dev/null || { cat "$OUT" >&2; fail "list --json via LIFEBOAT_REPO"; }
ok "LIFEBOAT_REPO selects the repository"

as_pg bash -c "printf '[repository]\npath = \"%s\"\n' '$REPO' >'$T/good.toml'"
expect_exit 0 lb list --config "$T/good.toml"
expect_in "$OUT" "repository $REPO" "list via --config should name the repository"
expect_exit 0 as_pg env LIFEBOAT_CONFIG="$T/good.toml" "$LB" list
expect_in "$OUT" "repository $REPO" "list via LIFEBOAT_CONFIG should name the repository"
ok "a config file's [repository] path selects the repository (--config and LIFEBOAT_CONFIG)"

# Precedence: flag > environment > config file.
expect_exit 0 as_pg env LIFEBOAT_REPO=/nonexistent "$LB" list --repo "$REPO"
expect_error 4 as_pg env LIFEBOAT_REPO=/nonexistent "$LB" list --config "$T/good.toml"
expect_exit 0 lb list --config "$T/good.toml" --repo "$REPO"
ok "precedence: --repo over LIFEBOAT_REPO over the config file"

# expire: malformed policies are usage errors, one line, and change nothing.
expect_exit 2 lb expire --repo "$REPO" --retention-window "two days"
expect_one_line_error
expect_exit 2 lb expire --repo "$REPO" --keep-min 0
expect_one_line_error
expect_in "$ERR" "at least 1"
expect_exit 2 lb expire --repo "$REPO" --keep-daily -1
expect_exit 2 lb expire --repo "$REPO" --repack-below 2
expect_exit 4 lb expire --repo "$T/nowhere"
expect_one_line_error
expect_exit 2 lb restore --repo "$REPO" --to consistent-ish --target-dir "$X"

# ---- bugs found while writing this test (defer_fail: reported together by finish)
# A regular file is "not a repository" (4) like a directory without config, not an I/O error.
as_pg touch "$T/plainfile"
RC=0
lb list --repo "$T/plainfile" >"$OUT" 2>"$ERR" || RC=$?
[ "$RC" = 4 ] || defer_fail "lifeboat list --repo <regular file> exits $RC, expected 4 (not a repository): $(cat "$ERR")"
# 30 February does not exist; it must be refused as malformed (2), not read as 2 March.
RC=0
lb restore --repo "$REPO" --to 2026-02-30T00:00:00Z --target-dir "$X" >"$OUT" 2>"$ERR" || RC=$?
[ "$RC" = 2 ] || defer_fail "lifeboat restore --to 2026-02-30T00:00:00Z exits $RC, expected 2 (malformed time): $(cat "$ERR")"
RC=0
lb restore --repo "$REPO" --to 2026-04-31T12:00:00Z --target-dir "$X" >"$OUT" 2>"$ERR" || RC=$?
[ "$RC" = 2 ] || defer_fail "lifeboat restore --to 2026-04-31T12:00:00Z exits $RC, expected 2 (malformed time): $(cat "$ERR")"

finish
