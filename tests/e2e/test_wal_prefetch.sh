#!/usr/bin/env bash
# wal-fetch's prefetch: after handing over one segment it starts a detached process (this binary
# again, spawned, not forked) that fills the spool beside the destination with the next segments,
# complete and identical to the archived ones; the next wal-fetch takes its segment from there.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int, payload text)"
backup_json
SEGMENTS=()
for i in 1 2 3 4; do
    q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g"
    SEGMENTS+=("$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")")
    switch_wal_and_wait
done

WAL="$T/fetch/pg_wal"
as_pg mkdir -p "$WAL"
FIRST=${SEGMENTS[0]}
expect_exit 0 lb wal-fetch "$FIRST" "$WAL/$FIRST" --repo "$REPO" --prefetch 3
SPOOL="$WAL/lifeboat-prefetch"
# The event: the spool holds the next three segments (files appear there only once complete).
for _ in $(seq 1 600); do
    n=0
    for seg in "${SEGMENTS[@]:1:3}"; do [ -f "$SPOOL/$seg" ] && n=$((n + 1)); done
    [ "$n" = 3 ] && break
    sleep 0.1
done
[ "$n" = 3 ] || { ls -la "$SPOOL" >&2 || true; fail "the prefetcher did not spool the next segments"; }
# The next fetch takes its segment from the spool, identical to the archived one.
SECOND=${SEGMENTS[1]}
expect_exit 0 lb wal-fetch "$SECOND" "$WAL/$SECOND" --repo "$REPO" --prefetch 0
[ ! -e "$SPOOL/$SECOND" ] || fail "$SECOND was not taken from the spool"
expect_exit 0 lb wal-fetch "$SECOND" "$T/direct" --repo "$REPO" --prefetch 0
cmp "$WAL/$SECOND" "$T/direct" || fail "the spooled $SECOND differs from the archived one"
finish
