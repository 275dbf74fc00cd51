#!/usr/bin/env bash
# The crash matrix: `backup`, `wal-push`, `copy` and `restore` killed at each of their named stages
# (docs/configuration.md), once by SIGKILL to the command itself and once by SIGKILL to its whole
# process group while it pauses there (a power cut). After each crash: `verify` passes, every
# listed backup restores exactly (its rows hash as the source's did when it was taken), nothing
# partial is visible (no backup without its packs, no WAL object that is not whole, no restore
# target that starts as an instance with other data), and rerunning the command completes.
# (`expire`'s stages have their own test: test_expire_crash.sh.)
source "$(dirname "$0")/lib.sh" "$@"

start_source
q "CREATE TABLE t (id int PRIMARY KEY, pad text)"
q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
ROW_HASH="SELECT count(*) || ':' || md5(string_agg(id || pad, ',' ORDER BY id)) FROM t"
declare -A EXPECTED   # backup id -> the row hash of the source when it was taken
declare -A CHECKED    # backup id (per repository) -> already restored and compared
POINTS=0
SURVIVED=0

# A backup with its expected row hash (nothing writes while a backup runs).
backup_and_remember() {
    backup_json
    EXPECTED[$BACKUP_ID]=$(q "$ROW_HASH")
}
backup_and_remember
COPY_REPO="$T/copy-repo"
lb repo-init --repo "$COPY_REPO" >/dev/null
WAL_REPO="$T/wal-repo"
lb repo-init --repo "$WAL_REPO" >/dev/null

# check_repository REPO WHAT: verify, then every backup not restored before is restored, started
# and its rows compared (backups are immutable: verify covers the ones restored earlier).
check_repository() {
    local repo=$1 what=$2 id dir port got
    expect_exit 0 lb verify --repo "$repo"
    expect_exit 0 lb list --repo "$repo" --json
    for id in $(jq -r '.backups[].id' "$OUT"); do
        [ -n "${CHECKED[$repo/$id]:-}" ] && continue
        [ -n "${EXPECTED[$id]:-}" ] || fail "$what: backup $id in $repo was never completed"
        dir="$T/check-$RANDOM$RANDOM"
        port=$(free_port)
        DATA_DIRS+=("$dir")
        expect_exit 0 lb restore --repo "$repo" --backup "$id" --to consistent --target-dir "$dir" \
            --port "$port" --start --json
        got=$(psql_on "$(jq -r .conninfo "$OUT")" "$ROW_HASH")
        expect_eq "$got" "${EXPECTED[$id]}" "$what: rows of backup $id restored from $repo"
        stop_server "$dir"
        as_pg rm -rf "$dir"
        CHECKED[$repo/$id]=1
    done
}

# crash MODE STAGE CMD...: runs CMD until STAGE and crashes it there. MODE kill: the stage hook
# sends SIGKILL to the command; MODE power: the command pauses at the stage in its own process
# group, and the test kills the whole group once the command says it is there.
crash() {
    local mode=$1 stage=$2 pid
    shift 2
    POINTS=$((POINTS + 1))
    if [ "$mode" = kill ]; then
        expect_exit 137 as_pg env LIFEBOAT_TEST_STAGE_HOOK="$stage:kill" "$@"
        return
    fi
    local reached="$T/reached"
    as_pg rm -f "$reached"
    as_pg env LIFEBOAT_TEST_STAGE_HOOK="$stage:pause=120" LIFEBOAT_TEST_STAGE_REACHED="$reached" \
        setsid "$@" >"$OUT" 2>"$ERR" &
    pid=$!
    for _ in $(seq 1 600); do
        [ -e "$reached" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -e "$reached" ] || { cat "$ERR" >&2; fail "$stage was never reached"; }
    # setsid made the command a group leader (the server's archiver runs its own wal-push
    # commands in the server's group, so those are not it).
    local pgid
    pgid=$(pgrep -f "^$LB " | xargs -r ps -o pid=,pgid= -p | awk '$1 == $2 { print $1 }' | head -1)
    [ -n "$pgid" ] || fail "no process group found for $stage"
    kill -9 -- "-$pgid"
    wait "$pid" 2>/dev/null || true
}

survived() {
    SURVIVED=$((SURVIVED + 1))
    ok "$1: survived"
}

# ---- backup
for mode in kill power; do
    for stage in backup:files backup:packs backup:index backup:publish; do
        q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series((SELECT max(id) + 1 FROM t), (SELECT max(id) + 3000 FROM t)) g"
        crash "$mode" "$stage" "$LB" backup --repo "$REPO" --pg "$CONNINFO"
        check_repository "$REPO" "backup $mode at $stage"
        backup_and_remember
        check_repository "$REPO" "backup rerun after $mode at $stage"
        survived "backup $mode at $stage"
    done
done

# ---- wal-push, into a repository of its own (the source's archive already holds every segment).
# Whole segments, fetched from the source's archive.
as_pg mkdir "$T/segments"
SEGMENTS=($(find "$REPO/wal" -type f -printf '%f\n' | grep -E '^[0-9A-F]{24}$' | sort | tail -n 4))
for seg in "${SEGMENTS[@]}"; do
    expect_exit 0 lb wal-fetch "$seg" "$T/segments/$seg" --prefetch 0 --repo "$REPO"
done
[ "${#SEGMENTS[@]}" -ge 4 ] || fail "only ${#SEGMENTS[@]} finished segments to push"
n=0
for mode in kill power; do
    for stage in wal-push:upload wal-push:publish; do
        seg=${SEGMENTS[$n]}
        n=$((n + 1))
        crash "$mode" "$stage" "$LB" wal-push "$T/segments/$seg" --repo "$WAL_REPO"
        # Nothing half-written is listed or readable under the segment's name.
        [ ! -e "$WAL_REPO/wal/$seg" ] && ! find "$WAL_REPO/wal" -name "$seg" | grep -q . ||
            fail "wal-push $mode at $stage left $seg visible"
        expect_exit 1 lb wal-fetch "$seg" "$T/fetched" --prefetch 0 --repo "$WAL_REPO"
        expect_exit 0 lb verify --repo "$WAL_REPO"
        expect_exit 0 lb wal-push "$T/segments/$seg" --repo "$WAL_REPO"
        as_pg rm -f "$T/fetched"
        expect_exit 0 lb wal-fetch "$seg" "$T/fetched" --prefetch 0 --repo "$WAL_REPO"
        cmp -s "$T/fetched" "$T/segments/$seg" || fail "$seg fetched after the rerun differs"
        survived "wal-push $mode at $stage"
    done
done

# ---- copy (a pinned backup, so that pins are copied too)
expect_exit 0 lb pin --repo "$REPO" "$BACKUP_ID"
for mode in kill power; do
    for stage in copy:packs copy:index copy:pins copy:manifest; do
        # Each round has a backup the destination does not hold yet.
        q "INSERT INTO t SELECT g, md5(g::text) FROM generate_series((SELECT max(id) + 1 FROM t), (SELECT max(id) + 3000 FROM t)) g"
        backup_and_remember
        crash "$mode" "$stage" "$LB" copy --from "$REPO" --to "$COPY_REPO"
        check_repository "$COPY_REPO" "copy $mode at $stage"
        expect_exit 0 lb copy --from "$REPO" --to "$COPY_REPO"
        check_repository "$COPY_REPO" "copy rerun after $mode at $stage"
        expect_exit 0 lb list --repo "$COPY_REPO" --json
        expect_eq "$(jq '.backups | length' "$OUT")" "$(lb list --repo "$REPO" --json | jq '.backups | length')" \
            "backups in the copy after $mode at $stage"
        survived "copy $mode at $stage"
    done
done

# ---- restore: a crashed restore leaves nothing that starts as an instance with other data.
LATEST=$BACKUP_ID
for mode in kill power; do
    for stage in restore:files restore:settings restore:configured; do
        dir="$T/crashed-$mode-${stage#restore:}"
        DATA_DIRS+=("$dir")
        port=$(free_port)
        crash "$mode" "$stage" "$LB" restore --repo "$REPO" --backup "$LATEST" --to consistent \
            --target-dir "$dir" --port "$port"
        if [ -d "$dir" ] && [ -f "$dir/PG_VERSION" ]; then
            if [ -f "$dir/recovery.signal" ] || [ -f "$dir/standby.signal" ]; then
                # Configured before the crash: it is the restore, and must be exact.
                start_server "$dir"
                expect_eq "$(psql_on "$(conninfo_for "$port")" "$ROW_HASH")" "${EXPECTED[$LATEST]}" \
                    "rows of the instance left by restore $mode at $stage"
                stop_server "$dir"
                log "restore $mode at $stage left a configured instance: its rows are exact"
            elif as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 60 start >/dev/null 2>&1; then
                fail "restore $mode at $stage left an unconfigured directory that starts"
            else
                log "restore $mode at $stage left an unconfigured directory that does not start"
            fi
        else
            log "restore $mode at $stage left no data directory"
        fi
        rdir="$T/rerun-$mode-${stage#restore:}"
        DATA_DIRS+=("$rdir")
        rport=$(free_port)
        expect_exit 0 lb restore --repo "$REPO" --backup "$LATEST" --to consistent \
            --target-dir "$rdir" --port "$rport" --start --json
        expect_eq "$(psql_on "$(jq -r .conninfo "$OUT")" "$ROW_HASH")" "${EXPECTED[$LATEST]}" \
            "rows restored after restore $mode at $stage"
        stop_server "$rdir"
        as_pg rm -rf "$dir" "$rdir"
        survived "restore $mode at $stage"
    done
done

check_repository "$REPO" "at the end"
expect_eq "$SURVIVED" "$POINTS" "crash points survived"
echo "$POINTS crash points, $SURVIVED survived"
finish
