# The frozen format-2 samples (tests/data/repo-v2, repo-v2-encrypted, and repo-v2-checksums whose
# zstd blocks carry checksum frames: one backup of a cluster whose table `frozen` had 1000 rows at
# the backup and 1100 at the end of the archive) stay readable and restorable: list names the
# source kind, verify passes, and restores to the end of the backup and to the end of the archive
# give exactly those rows, checking the blocks written before checksums by their ids and those
# written with them by their checksums.
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
source "$(dirname "$0")/lib.sh" "$@"

# check_sample NAME none|some [ARGS...]: whether the sample's blocks carry checksums.
check_sample() {
    local name=$1 checksums=$2
    shift 2
    local repo="$T/$name"
    cp -a "$DATA/$name" "$repo"
    if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER": "$repo"; fi

    expect_exit 0 lb list --repo "$repo" "$@" --json
    expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "$name: backups listed"
    expect_eq "$(jq -r '.backups[0].source_kind' "$OUT")" postgres-physical "$name: source kind"
    expect_eq "$(jq -r '.backups[0].tags.purpose' "$OUT")" frozen-v2-sample "$name: tag"
    expect_exit 0 lb verify --repo "$repo" "$@"
    ok "$name: listed (postgres-physical) and verified"

    # The sample's postgresql.conf names the socket directory of the run that made it: each
    # restored instance gets this test's own, then starts as restore would start it.
    local to rows dir port
    for to in consistent:1000 latest:1100; do
        rows=${to#*:}
        to=${to%%:*}
        dir="$T/$name-$to"
        port=$(free_port)
        REPO=$repo restore_into "$dir" --to "$to" --port "$port" "$@"
        local by_checksum by_id
        by_checksum=$(jq -r .blocks_checked.checksum "$OUT")
        by_id=$(jq -r .blocks_checked.id "$OUT")
        if [ "$checksums" = none ]; then
            expect_eq "$by_checksum" 0 "$name: blocks checked by a stored checksum"
            [ "$by_id" -gt 0 ] || fail "$name: no block checked by its id: $(cat "$OUT")"
        else
            [ "$by_checksum" -gt 0 ] || fail "$name: no block checked by its stored checksum: $(cat "$OUT")"
        fi
        as_pg bash -c "echo \"unix_socket_directories = '$T'\" >> '$dir/postgresql.auto.conf'"
        start_server "$dir"
        wait_promoted "$(conninfo_for "$port")"
        expect_eq "$(psql_on "$(conninfo_for "$port")" "SELECT count(*) FROM frozen")" "$rows" \
            "$name: rows restored to $to"
        stop_server "$dir"
    done
    ok "$name: restored to consistent (1000 rows) and latest (1100 rows)"
}

check_sample repo-v2 none
check_sample repo-v2-checksums some
KEY="$T/sample.key"
cp "$DATA/repo-v2-encrypted.key" "$KEY"
chmod 600 "$KEY"
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$KEY"; fi
check_sample repo-v2-encrypted none --key-file "$KEY"
finish
