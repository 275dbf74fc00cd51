#!/usr/bin/env bash
# "A skip that missed" (issue 16): an incremental's own start checkpoint writes the pages changed
# since the previous backup, a few milliseconds before the backup starts reading. Compared with the
# backup's start time, within the 100 ms timestamp margin, those files looked "changed too close to
# the backup" and the next incremental re-read them although nothing had changed since. Backups now
# record when they began reading files (after the checkpoint and the margin): here the table written
# before the second backup is not re-read by the third, which falls back to timestamps (no WAL
# summaries) and reads only the table changed since.
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE quiet (id integer PRIMARY KEY, pad text NOT NULL)"
q "CREATE TABLE busy (id integer PRIMARY KEY, pad text NOT NULL)"
q "INSERT INTO quiet SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g"
q "INSERT INTO busy SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g"
q "VACUUM ANALYZE"
q "CHECKPOINT"
QUIET=$(q "SELECT pg_relation_size('quiet')")
backup_json
# Dirty every page of `quiet` and leave them in shared buffers: the next backup's checkpoint
# writes them just before it starts.
q "UPDATE quiet SET pad = upper(pad)"
backup_json
q "UPDATE busy SET pad = lower(pad) WHERE id % 10 = 0"
q "CHECKPOINT"
switch_wal_and_wait
rm -rf "$REPO/wal-summaries"  # timestamps only: the rule this test is about
backup_json
expect_eq "$(jq -r .incremental.method "$OUT")" timestamps "method without summaries"
READ=$(jq -r .read_bytes "$OUT")
QUIET=$(q "SELECT pg_relation_size('quiet')")
[ "$READ" -lt "$QUIET" ] ||
    fail "the third backup read $READ bytes: the unchanged table 'quiet' ($QUIET bytes, written by the second backup's checkpoint) was read again"
ok "read $READ bytes; 'quiet' ($QUIET bytes), unchanged since the second backup, was not re-read"
finish
