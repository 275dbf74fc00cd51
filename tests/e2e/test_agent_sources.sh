#!/usr/bin/env bash
# One agent, two real PostgreSQL sources ([[sources]]): each is backed up into its own
# repository on its own schedule (one also copied into a second repository), the metrics, the
# JSON API, the page and `lifeboat status` show both, the agent runs one job at a time, a
# failing source fires its own alert while the other keeps its backups, and two sources naming
# one repository are refused.
source "$(dirname "$0")/lib.sh" "$@"

# Source "orders": the harness's $SRC into $REPO.
start_source
ORDERS_CONN=$CONNINFO
ORDERS_SRC=$SRC
ORDERS_REPO=$REPO
psql_on "$ORDERS_CONN" "CREATE TABLE o (id int primary key); INSERT INTO o SELECT generate_series(1, 100)"
# Source "billing": a second cluster, archiving into its own repository.
SRC="$T/src2"
REPO="$T/repo2"
start_source
BILLING_CONN=$CONNINFO
BILLING_SRC=$SRC
BILLING_REPO=$REPO
psql_on "$BILLING_CONN" "CREATE TABLE b (id int primary key); INSERT INTO b SELECT generate_series(1, 50)"
WEST="$T/billing-west"
lb repo-init --repo "$WEST" >/dev/null || fail "repo-init west"

AGENT_PORT=$(free_port)
URL="http://127.0.0.1:$AGENT_PORT"
CONF="$T/agent.toml"
cat >"$CONF" <<TOML
[repositories.orders]
path = "$ORDERS_REPO"
[repositories.billing]
path = "$BILLING_REPO"
[repositories.billing-west]
path = "$WEST"
[retention]
window = "0"
min_backups = 2
[agent]
listen = "127.0.0.1:$AGENT_PORT"
probe_interval = "1s"
catalog_refresh = "2s"
[schedule]
backup = "every 3s"
[alerts]
backup_older_than = "1h"
retries = 0

[[sources]]
name = "orders"
pg = "$ORDERS_CONN"
pgdata = "$ORDERS_SRC"
repository = "orders"

[[sources]]
name = "billing"
kind = "postgres-physical"
pg = "$BILLING_CONN"
repository = "billing"
copy_to = "billing-west"
[sources.schedule]
backup = "every 4s"
copy = "every 6s"
expire = "after backup"
[sources.alerts]
rpo_above = "10m"
TOML
chmod 644 "$CONF"

# Two sources naming one repository: refused before anything starts.
sed 's/^repository = "billing"$/repository = "orders"/' "$CONF" >"$T/shared.toml"
expect_exit 3 lb agent --config "$T/shared.toml"
expect_one_line_error
expect_in "$ERR" "both use repository"
ok "two sources in one repository are refused"

(exec_as_pg "$LB" agent --config "$CONF") 2>>"$T/agent.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
for _ in $(seq 1 300); do
    curl -fsS "$URL/api/status" -o "$T/status.json" 2>/dev/null && break
    kill -0 "$AGENT_PID" 2>/dev/null || { cat "$T/agent.log" >&2; fail "the agent exited at start-up"; }
    sleep 0.1
done

wait_for() {
    local what=$1 filter=$2 limit=${3:-180}
    local deadline=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if curl -fsS "$URL/api/status" -o "$T/status.json" 2>/dev/null &&
           [ "$(jq -r "$filter" "$T/status.json")" = true ]; then
            return 0
        fi
        kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 30 "$T/agent.log" >&2; fail "the agent died waiting for $what"; }
        sleep 0.2
    done
    jq . "$T/status.json" >&2 || true
    tail -n 30 "$T/agent.log" >&2
    fail "$what did not happen within $limit s"
}

wait_for "two backups of each source, an expire and a copy of billing" \
    '([.history[] | select(.source == "orders" and .kind == "backup" and .ok)] | length) >= 2 and ([.history[] | select(.source == "billing" and .kind == "backup" and .ok)] | length) >= 2 and ([.history[] | select(.source == "billing" and .kind == "copy" and .ok)] | length) >= 1 and ([.history[] | select(.source == "billing" and .kind == "expire" and .ok)] | length) >= 1'
jq -e '[.history[] | select(.source == "orders" and (.kind == "copy" or .kind == "expire"))] | length == 0' \
    "$T/status.json" >/dev/null || fail "orders ran billing's copy or expire schedule"
ok "each source ran its own schedule"

# Each repository holds its own source's backups: the ids of orders' backup jobs are in the
# orders repository (no expire there); billing's repository has its own. (Ids are times, so
# two sources backed up in one second share one: ids alone cannot tell the repositories apart.)
jq -r '.history[] | select(.source == "orders" and .kind == "backup" and .ok) | .message' "$T/status.json" |
    sed -E 's/^backup ([^:]+):.*/\1/' >"$T/orders-ids.txt"
[ -s "$T/orders-ids.txt" ] || fail "no backup id in orders' history"
expect_exit 0 lb list --repo "$ORDERS_REPO" --json
jq -r '.backups[].id' "$OUT" >"$T/orders-repo.txt"
expect_exit 0 lb list --repo "$BILLING_REPO" --json
jq -r '.backups[].id' "$OUT" >"$T/billing-repo.txt"
[ -s "$T/billing-repo.txt" ] || fail "no backup in billing's repository"
while read -r id; do
    grep -qx "$id" "$T/orders-repo.txt" || fail "orders' backup $id is not in the orders repository"
done <"$T/orders-ids.txt"
expect_exit 0 lb list --repo "$WEST" --json
[ "$(jq '.backups | length' "$OUT")" -ge 1 ] || fail "billing's copy put no backup in billing-west"
ok "each repository holds its own source's backups; billing's copy reached billing-west"

# One job at a time across the agent: each job starts after the previous one finished.
jq -r '[.history[]] | [range(1; length) as $i | .[$i].started >= .[$i - 1].finished] | all' \
    "$T/status.json" | grep -q true || fail "two jobs overlapped"
ok "jobs never overlapped"

# Metrics, the JSON API, the page and `lifeboat status` show both.
wait_for "both catalogs" '([.sources[] | select((.backups | length) >= 1)] | length) == 2'
jq -e '[.sources[].name] == ["orders", "billing"] and .sources[1].copy_to == ["'"$WEST"'"]' "$T/status.json" >/dev/null ||
    fail "/api/status does not list both sources"
jq -e '.sources[0].schedule == {"backup": "every 3s"} and .sources[1].schedule == {"backup": "every 4s", "copy": "every 6s", "expire": "after backup"}' "$T/status.json" >/dev/null ||
    { jq '.sources[].schedule' "$T/status.json" >&2; fail "/api/status does not show each source's own schedule"; }
curl -fsS "$URL/metrics" -o "$T/metrics.txt"
for s in orders billing; do
    expect_in "$T/metrics.txt" "^lifeboat_backup_last_success_timestamp_seconds\{source=\"$s\",repository=\"$s\"\} [1-9]"
    expect_in "$T/metrics.txt" "^lifeboat_wal_archive_lag_bytes\{source=\"$s\",repository=\"$s\"\} [0-9]"
    expect_in "$T/metrics.txt" "^lifeboat_job_failures_total\{source=\"$s\",repository=\"$s\",kind=\"backup\"\} 0$"
done
curl -fsS "$URL/" -o "$T/page.html"
expect_in "$T/page.html" 'id="source-orders"'
expect_in "$T/page.html" 'id="source-billing"'
expect_exit 0 lb status --config "$CONF"
expect_in "$OUT" '^source orders \(repository orders\): '
expect_in "$OUT" '^source billing \(repository billing\): '
ok "metrics, /api/status, the page and lifeboat status show both sources"

# billing stops: its backups fail and its alert fires; orders keeps being backed up.
orders_before=$(jq '[.history[] | select(.source == "orders" and .kind == "backup" and .ok)] | length' "$T/status.json")
stop_server "$BILLING_SRC"
wait_for "billing's backup_failed" '[.alerts[] | select(.name == "backup_failed" and .source == "billing" and .state == "firing")] | length == 1' 60
jq -e '[.alerts[] | select(.source == "orders" and .state == "firing")] | length == 0' "$T/status.json" >/dev/null ||
    fail "an alert fired on orders, whose server runs"
wait_for "more orders backups" "([.history[] | select(.source == \"orders\" and .kind == \"backup\" and .ok)] | length) > $orders_before + 1" 60
ok "a failing billing fired its own alert; orders kept its backups"

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
expect_eq "$rc" 0 "the agent's exit status after SIGTERM"
ok "SIGTERM stopped the agent"
finish
