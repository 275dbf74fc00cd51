#!/usr/bin/env bash
# The HTML report (issue 10, item 2). A repository with two timelines (a restore to T1 that
# archives into the same repository starts timeline 2), three backups (two on timeline 1, one on
# timeline 2, one tagged with markup), a passing and a failing drill (whose failing check's name
# is markup too). `report --format html` is loaded in Debian's headless Chromium, JavaScript off
# (tests/browser/check_report.mjs): the tables and the drawing hold the expected rows and
# markers, markup from the data shows as text, no request leaves the page, and a screenshot is
# kept as a test artifact (in $LIFEBOAT_TEST_ARTIFACTS, default BUILD/test-artifacts/report.png).
# `--format html --json` is refused with one line.
HERE=$(cd "$(dirname "$0")" && pwd)
BROWSER_TESTS="$HERE/../browser"
# The artifacts go beside the build the binary comes from (BUILD/src/cli/lifeboat).
BUILD_DIR=$HERE/../../build
case "${1:-}" in */src/cli/lifeboat) BUILD_DIR=$(cd "$(dirname "$1")/../.." && pwd) ;; esac
ARTIFACTS=${LIFEBOAT_TEST_ARTIFACTS:-$BUILD_DIR/test-artifacts}
source "$HERE/lib.sh" "$@"

[ -d "$BROWSER_TESTS/node_modules/playwright-core" ] ||
    fail "playwright-core is not installed in tests/browser: run scripts/install-deps.sh"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed: run scripts/install-deps.sh"

now_utc() { psql_on "${1:-$CONNINFO}" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }

start_source
q "CREATE TABLE rows (id serial PRIMARY KEY, batch text NOT NULL)"
LITERAL='<b>night</b> & "co"'
backup_json --tag "note=$LITERAL"
FIRST=$BACKUP_ID
q "INSERT INTO rows (batch) SELECT 'b1' FROM generate_series(1, 100)"
sleep 1
T1=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'b2' FROM generate_series(1, 100)"
sleep 1 # the second backup's id must differ from the first's
backup_json
SECOND=$BACKUP_ID
q "INSERT INTO rows (batch) SELECT 'b3' FROM generate_series(1, 100)"
switch_wal_and_wait
ok "backups $FIRST and $SECOND on timeline 1; T1=$T1"

# ---- a passing and a failing drill
cat >"$T/good.toml" <<'EOC'
[[check]]
name = "rows up to T1"
sql = "SELECT count(*) FROM rows"
expect = "= 100"
EOC
cat >"$T/bad.toml" <<'EOC'
[[check]]
name = "<b>every</b> row & \"more\""
sql = "SELECT count(*) FROM rows"
expect = "= 999999"
EOC
chmod 644 "$T"/*.toml
expect_exit 0 lb drill --repo "$REPO" --to "$T1" --checks "$T/good.toml" --json
expect_eq "$(jq -r .passed "$OUT")" true "first drill passed"
expect_exit 10 lb drill --repo "$REPO" --to "$T1" --checks "$T/bad.toml" --json
expect_eq "$(jq -r .passed "$OUT")" false "second drill failed"
ok "one passing and one failing drill recorded"

# ---- timeline 2: restore to T1, archive into the same repository, write, back it up
restore_into "$T/branch" --to "$T1" --start --archive
BRANCH_CONN=$RESTORED_CONN
psql_on "$BRANCH_CONN" "INSERT INTO rows (batch) SELECT 'tl2' FROM generate_series(1, 100)"
switch_wal_and_wait "$BRANCH_CONN"
for _ in $(seq 1 100); do
    [ -n "$(find "$REPO/wal" -name 00000002.history 2>/dev/null)" ] && break
    sleep 0.1
done
[ -n "$(find "$REPO/wal" -name 00000002.history)" ] || fail "00000002.history was not archived"
sleep 1
expect_exit 0 lb backup --repo "$REPO" --pg "$BRANCH_CONN" --json
THIRD=$(jq -r .id "$OUT")
expect_eq "$(jq -r .timeline "$OUT")" 2 "timeline of the branch's backup"
psql_on "$BRANCH_CONN" "INSERT INTO rows (batch) SELECT 'tl2b' FROM generate_series(1, 10)"
switch_wal_and_wait "$BRANCH_CONN"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq '.timelines | length' "$OUT")" 2 "timelines listed"
[ "$(jq -r '.timelines[] | select(.timeline == 2) | .branch_time' "$OUT")" != null ] ||
    fail "timeline 2 has no branch time: $(jq -c .timelines "$OUT")"
ok "backup $THIRD on timeline 2, which branched off timeline 1"

# ---- the report, in every format
expect_exit 0 lb report --repo "$REPO"
expect_eq "$(head -n 1 "$OUT")" "# Disaster-recovery report" "markdown is the default"
expect_exit 0 lb report --repo "$REPO" --format json
expect_eq "$(jq '.repositories[0].backups' "$OUT")" 3 "backups in report --format json"
expect_exit 0 lb report --repo "$REPO" --json --format json
expect_exit 2 lb report --repo "$REPO" --format html --json
expect_one_line_error
expect_in "$ERR" "--json and --format html"
expect_exit 2 lb report --repo "$REPO" --json --format markdown
expect_one_line_error
ok "--format html --json refused: $(cat "$ERR")"

expect_exit 0 lb report --repo "$REPO" --format html
cp "$OUT" "$T/report.html"
chmod 644 "$T/report.html"
expect_in "$T/report.html" '^<!doctype html>' "an HTML page"
expect_in "$T/report.html" '&lt;b&gt;night&lt;/b&gt; &amp; &quot;co&quot;' "the tag, escaped"
expect_in "$T/report.html" '&lt;b&gt;every&lt;/b&gt; row' "the failing check's name, escaped"
if grep -E -q '<script|<link|src=|url\(|@import' "$T/report.html"; then
    fail "the page loads something: $(grep -E -o '<script|<link|src=|url\(|@import' "$T/report.html" | sort -u | tr '\n' ' ')"
fi
ok "report --format html written ($(wc -c <"$T/report.html") bytes)"

mkdir -p "$ARTIFACTS"
EXPECTED=$(jq -cn --arg literal "note=$LITERAL" \
    '{repositories: 1, timelines: 2, branches: 1, backups: 3, drills: 2, passed_drills: 1,
      failed_drills: 1, literal: $literal}')
node "$BROWSER_TESTS/check_report.mjs" "$T/report.html" "$ARTIFACTS/report.png" "$EXPECTED" \
    >"$T/browser.out" 2>"$T/browser.err" || {
    cat "$T/browser.out" "$T/browser.err" >&2
    fail "the report failed its checks in Chromium"
}
ok "Chromium: $(cat "$T/browser.out")"
cp "$T/report.html" "$ARTIFACTS/report.html"

# The checker itself: a page that loads an image and a stylesheet from elsewhere must fail it.
sed 's#</main>#<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="https://fonts.example.invalid/x.css"></main>#' \
    "$T/report.html" >"$T/tampered.html"
if node "$BROWSER_TESTS/check_report.mjs" "$T/tampered.html" "$T/tampered.png" '{}' \
    >"$T/browser.out" 2>"$T/browser.err"; then
    fail "the browser check let a page load resources from elsewhere"
fi
expect_in "$T/browser.err" "requests that left the page: .*127\.0\.0\.1:9.*fonts\.example\.invalid"
ok "a page loading an image and a stylesheet from elsewhere fails the browser check"
ok "screenshot kept: $ARTIFACTS/report.png"

finish
