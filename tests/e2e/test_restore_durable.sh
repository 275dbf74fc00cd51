#!/usr/bin/env bash
# Durable restores and the phases of PITR (issue 16, items 1 and 2).
# - restore --json says durable: true and how long it waited for the disk (sync_seconds);
# - a failed flush (injected: LIFEBOAT_TEST_FSYNC_FAIL) fails the restore with one line and
#   exit status 11, and leaves nothing behind (no recovery.signal, no files);
# - a restore to a time pauses at the target and is promoted by restore (no end-of-recovery
#   checkpoint waited for), with the run-only recovery settings on the command line, not in the
#   configuration files; a restore to latest lets the server end recovery itself;
# - max_wal_size for the replay: raised while it replays (no restartpoints to wait for), back to
#   the configured value, its postgresql.auto.conf line gone, once the instance is read-write;
# - shared_buffers for the replay: automatic leaves a small cluster's configured value alone,
#   --replay-shared-buffers SIZE sets it for that run only (command line, not the files), and a
#   bad value is refused with one line and exit status 2;
# - --restore-writes buffered (the default) and direct write the same files;
# - --restore-checks checksum (the default) and ids restore the same files, the default checking
#   blocks by their stored checksum and ids every block by its id (blocks_checked); a bad value
#   is exit 2; a copy of the repository keeps the checksums (a restore from it checks as many).
source "$(dirname "$0")/lib.sh" "$@"

now_utc() { q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
count_on() { psql_on "$1" "SELECT count(*) FROM rows WHERE batch = '$2'"; }

start_source
q "CREATE TABLE rows (id serial PRIMARY KEY, batch text NOT NULL)"
backup_json
q "INSERT INTO rows (batch) SELECT 'before' FROM generate_series(1, 100)"
# The target lies between two commits one second apart on the source's clock.
sleep 1
TARGET=$(now_utc)
sleep 1
q "INSERT INTO rows (batch) SELECT 'after' FROM generate_series(1, 100)"
switch_wal_and_wait
ok "backup, 100 rows before $TARGET and 100 after, archived"

# ---- a restore of files only is durable when it says so
restore_into "$T/files" --to "$TARGET"
expect_eq "$(jq -r .durable "$OUT")" true "restore --json durable"
expect_eq "$(jq -r .block_checks "$OUT")" checksum "restore --json block_checks by default"
BY_CHECKSUM=$(jq -r .blocks_checked.checksum "$OUT")
BY_ID=$(jq -r .blocks_checked.id "$OUT")
[ "$BY_CHECKSUM" -gt 0 ] || fail "a default restore of a new backup checked no block by its stored checksum: $(cat "$OUT")"
jq -e '.phases.sync_seconds | type == "number" and . >= 0' "$OUT" >/dev/null ||
    fail "restore --json has no phases.sync_seconds: $(cat "$OUT")"
jq -e '.phases.sync_seconds <= .phases.files_seconds' "$OUT" >/dev/null ||
    fail "sync_seconds is not part of files_seconds: $(cat "$OUT")"
ok "restore --json: durable true, sync $(jq -r .phases.sync_seconds "$OUT") s of files $(jq -r .phases.files_seconds "$OUT") s"

# ---- past the page cache or through it: the same files either way
expect_eq "$(jq -r .direct_bytes "$OUT")" 0 "a buffered restore (the default): direct_bytes"
restore_into "$T/files-direct" --to "$TARGET" --restore-writes direct
DIRECT_BYTES=$(jq -r .direct_bytes "$OUT")
diff -r "$T/files" "$T/files-direct" >/dev/null ||
    fail "direct and buffered restores differ: $(diff -rq "$T/files" "$T/files-direct" | head -3)"
if dd if=/dev/zero of="$T/direct-probe" bs=8192 count=1 oflag=direct status=none 2>/dev/null; then
    [ "$DIRECT_BYTES" -gt 0 ] || fail "this file system takes O_DIRECT, yet direct_bytes is $DIRECT_BYTES"
fi
rm -f "$T/direct-probe"
ok "direct ($DIRECT_BYTES bytes past the page cache) and buffered restores write the same files"
expect_exit 2 as_pg "$LB" restore --repo "$REPO" --target-dir "$T/bad" --to latest --restore-writes sometimes
expect_one_line_error
[ ! -e "$T/bad" ] || fail "--restore-writes sometimes left $T/bad behind"
ok "a bad --restore-writes value: exit 2, one line"

# ---- blocks checked against their stored checksum (the default) or against their ids
restore_into "$T/files-ids" --to "$TARGET" --restore-checks ids
expect_eq "$(jq -r .block_checks "$OUT")" ids "restore --json block_checks with --restore-checks ids"
expect_eq "$(jq -r .blocks_checked.id "$OUT")" "$((BY_ID + BY_CHECKSUM))" "blocks checked by id with --restore-checks ids (every block)"
expect_eq "$(jq -r .blocks_checked.checksum "$OUT")" "$BY_CHECKSUM" "blocks checked by checksum with --restore-checks ids (those carrying one)"
diff -r "$T/files" "$T/files-ids" >/dev/null ||
    fail "restores checked by checksum and by id differ: $(diff -rq "$T/files" "$T/files-ids" | head -3)"
ok "--restore-checks ids restores the same files as the default checks"
expect_exit 2 as_pg "$LB" restore --repo "$REPO" --target-dir "$T/bad" --to latest --restore-checks some
expect_one_line_error
[ ! -e "$T/bad" ] || fail "--restore-checks some left $T/bad behind"
ok "a bad --restore-checks value: exit 2, one line"

# ---- copy moves blocks as stored: a restore from the copy checks the same stored checksums
REPO2="$T/repo-copy"
expect_exit 0 lb repo-init --repo "$REPO2"
expect_exit 0 lb copy --from "$REPO" --to "$REPO2" --all --json
DATA_DIRS+=("$T/files-copy")
expect_exit 0 lb restore --repo "$REPO2" --target-dir "$T/files-copy" --to "$TARGET" --json
expect_eq "$(jq -r .blocks_checked.checksum "$OUT")" "$BY_CHECKSUM" "blocks checked by checksum in a restore from a copy"
expect_eq "$(jq -r .blocks_checked.id "$OUT")" "$BY_ID" "blocks checked by id in a restore from a copy"
# postgresql.auto.conf names the repository in its restore_command; every other file is the same.
diff -r -x postgresql.auto.conf "$T/files" "$T/files-copy" >/dev/null ||
    fail "restores from the repository and from its copy differ: $(diff -rq -x postgresql.auto.conf "$T/files" "$T/files-copy" | head -3)"
ok "a copy keeps every block's checksum: a restore from it checks $BY_CHECKSUM by checksum, $BY_ID by id"

# ---- a failed flush fails the restore, leaving nothing that looks restored
for name in pg_control global; do
    dir="$T/failing-$name"
    DATA_DIRS+=("$dir")
    expect_exit 11 as_pg env LIFEBOAT_TEST_FSYNC_FAIL=$name "$LB" restore --repo "$REPO" \
        --target-dir "$dir" --to "$TARGET"
    expect_one_line_error
    expect_in "$ERR" "cannot fsync .*$name" "the error names what could not be flushed"
    [ ! -e "$dir/recovery.signal" ] || fail "a failed flush of $name left recovery.signal behind"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        fail "a failed flush of $name left files in $dir: $(ls -A "$dir" | head -5 | tr '\n' ' ')"
    fi
    ok "a failed flush of $name: exit 11, one line ($(cat "$ERR")), nothing left"
done

# ---- PITR to a time: paused at the target, promoted by restore
restore_into "$T/pitr" --to "$TARGET" --start
expect_eq "$(count_on "$RESTORED_CONN" before)/$(count_on "$RESTORED_CONN" after)" "100/0" "PITR rows (before/after)"
expect_eq "$(jq -r .durable "$OUT")" true "restore --start --json durable"
expect_in <(jq -r .end_of_recovery "$OUT") "^promoted at the target" "a PITR to a time is promoted at its target"
for phase in files_seconds sync_seconds startup_seconds redo_seconds end_of_recovery_seconds replay_seconds ready_seconds; do
    jq -e --arg p "$phase" '.phases[$p] | type == "number" and . >= 0' "$OUT" >/dev/null ||
        fail "restore --json has no phases.$phase: $(jq -c .phases "$OUT")"
done
jq -e '.phases.startup_seconds > 0' "$OUT" >/dev/null ||
    fail "the start-up phase was not measured (no 'redo starts at' in the server log?): $(jq -c .phases "$OUT")"
if grep -q "checkpoint starting: end-of-recovery" "$T/pitr/lifeboat-restore.log"; then
    fail "the PITR waited for an end-of-recovery checkpoint: $(grep 'checkpoint starting' "$T/pitr/lifeboat-restore.log")"
fi
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT setting || '/' || source FROM pg_settings WHERE name = 'recovery_init_sync_method'")" \
    "syncfs/command line" "recovery_init_sync_method of the restored server"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT setting || '/' || source FROM pg_settings WHERE name = 'wal_recycle'")" \
    "off/command line" "wal_recycle of the restored server"
if grep -E -q "^(recovery_init_sync_method|maintenance_io_concurrency|hot_standby|wal_decode_buffer_size|wal_recycle) " \
    "$T/pitr/postgresql.auto.conf" || grep -E -q "^recovery_target_action = 'pause'" "$T/pitr/postgresql.auto.conf"; then
    fail "run-only recovery settings were written into postgresql.auto.conf"
fi
# max_wal_size: raised for the replay alone (a quarter of the space free for pg_wal, when above
# the configured 256MB), then back to the configured value once read-write, its line gone.
RAISED=$(jq -r .replay_max_wal_size "$OUT")
FREE=$(df --output=avail -B1 "$T/pitr/pg_wal" | tail -1)
if [ $((FREE / 4)) -gt $((512 * 1024 * 1024)) ]; then
    [ "$RAISED" -gt $((256 * 1024 * 1024)) ] ||
        fail "max_wal_size was not raised for the replay ($RAISED; $FREE bytes free)"
    grep -q "parameter \"max_wal_size\" changed to \"256MB\"" "$T/pitr/lifeboat-restore.log" ||
        fail "the restored server did not go back to the configured max_wal_size: $(grep -i max_wal_size "$T/pitr/lifeboat-restore.log")"
fi
for _ in $(seq 50); do
    [ "$(psql_on "$RESTORED_CONN" "SHOW max_wal_size")" = 256MB ] && break
    sleep 0.1
done
expect_eq "$(psql_on "$RESTORED_CONN" "SHOW max_wal_size")" 256MB "max_wal_size of the read-write restored server"
if grep -q "for the WAL replay only" "$T/pitr/postgresql.auto.conf"; then
    fail "the replay's max_wal_size line was left in postgresql.auto.conf"
fi
ok "max_wal_size: $RAISED bytes for the replay, the configured 256MB once read-write"
# Automatic: this cluster's data is far below the configured 128 MB, so nothing is raised.
expect_eq "$(jq -r .replay_shared_buffers "$OUT")" 0 "replay_shared_buffers of a small cluster"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT source FROM pg_settings WHERE name = 'shared_buffers'")" \
    "configuration file" "shared_buffers of a small cluster's restored server comes from"
psql_on "$RESTORED_CONN" "INSERT INTO rows (batch) VALUES ('written')" >/dev/null
ok "PITR: promoted at the target, read-write, phases $(jq -c .phases "$OUT")"
as_pg "$PGBIN/pg_ctl" -D "$T/pitr" -m fast -w stop >/dev/null || true

# ---- restore to latest: the server ends recovery itself
restore_into "$T/latest" --to latest --start --replay-shared-buffers 300MB
expect_eq "$(count_on "$RESTORED_CONN" before)/$(count_on "$RESTORED_CONN" after)" "100/100" "latest rows (before/after)"
expect_eq "$(jq -r .replay_shared_buffers "$OUT")" $((300 * 1024 * 1024)) "replay_shared_buffers with 300MB"
expect_eq "$(psql_on "$RESTORED_CONN" "SELECT setting || '/' || source FROM pg_settings WHERE name = 'shared_buffers'")" \
    "38400/command line" "shared_buffers (8 kB pages) of the restored server"
if grep -q "shared_buffers" "$T/latest/postgresql.auto.conf"; then
    fail "the replay's shared_buffers was written into postgresql.auto.conf"
fi
ok "--replay-shared-buffers 300MB: on the server's command line only"
expect_in <(jq -r .end_of_recovery "$OUT") "^ended by the server" "a restore to latest ends recovery itself"
expect_eq "$(jq -r .replay_max_wal_size "$OUT")" 0 "replay_max_wal_size of a recovery the server ends itself"
ok "latest: phases $(jq -c .phases "$OUT")"
as_pg "$PGBIN/pg_ctl" -D "$T/latest" -m fast -w stop >/dev/null || true

# ---- a bad --replay-shared-buffers is refused before anything is written
for bad in lots 1gb 64kB -5MB; do
    expect_exit 2 as_pg "$LB" restore --repo "$REPO" --target-dir "$T/bad" --to latest \
        --replay-shared-buffers "$bad"
    expect_one_line_error
    [ ! -e "$T/bad" ] || fail "--replay-shared-buffers $bad left $T/bad behind"
done
ok "bad --replay-shared-buffers values: exit 2, one line"

finish
