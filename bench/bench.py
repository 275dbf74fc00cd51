#!/usr/bin/env python3
"""Benchmark of Lifeboat against pgBackRest (standard library only).

Run it through bench/run.sh, which installs the Debian packages and builds lifeboat first.
What it measures and how is described in docs/performance.md.

For each dataset (pgbench; business-like) it creates a PostgreSQL 15 cluster (data checksums,
WAL archived by one archive_command into both tools' repositories), loads the data, measures the
machine's limits (tar | cat, tar | zstd -3 -T2), then for each repetition runs, alternating
Lifeboat and pgBackRest: full backup, incremental backup after pgbench writes, restore of the full
backup (files only), and point-in-time recovery to a target inside a write burst until the
restored server accepts read-write queries (checking the restored rows). Every run is written to
bench/results/<timestamp>.json as soon as it ends; the Markdown table is rewritten after every
repetition, so an interrupted run leaves useful partial results.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource  # noqa: F401  (documented: rusage comes from os.wait4, see measure())
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
GNU_TIME = "/usr/bin/time"
PG_USER = "postgres"
IS_ROOT = os.geteuid() == 0
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
LB = "lifeboat"
PBR = "pgbackrest"
TOOLS = (LB, PBR)
STEPS = ("full", "incr", "incr_small", "incr_large", "incr_pages1", "incr_pages10", "restore", "pitr")
CHANGE_STEPS = ("incr_small", "incr_large", "incr_pages1", "incr_pages10")
STEP_TITLES = {
    "full": "full backup",
    "incr": "incremental backup",
    "incr_small": "incremental after 1% of rows changed",
    "incr_large": "incremental after 30% of rows changed",
    "incr_pages1": "incremental after 1% of pages changed (hot set)",
    "incr_pages10": "incremental after 10% of pages changed (hot set)",
    "restore": "restore of the full backup (files)",
    "pitr": "PITR to read-write",
}

# Targets: (key, description, kind, threshold per dataset).
FULL_RATIO = {"pgbench": 0.5, "business": 0.8}
TARGETS = [
    ("full", "full backup time ≤ {t}× pgBackRest", "ratio", FULL_RATIO),
    ("throughput", "full backup throughput ≥ 85% of tar | zstd -3 -T2", "min", 85.0),
    ("incr", "incremental backup time ≤ 0.3× pgBackRest", "ratio", 0.3),
    ("incr_pages1", "incremental after 1% of pages changed ≤ 0.2× pgBackRest", "ratio", 0.2),
    ("incr_pages10", "incremental after 10% of pages changed ≤ 0.35× pgBackRest", "ratio", 0.35),
    ("incr_small_read", "bytes read by the incremental after 1% of rows ≤ 1.0× pgBackRest's", "ratio", 1.0),
    ("restore", "restore time ≤ 0.75× pgBackRest", "ratio", 0.75),
    ("durable", "durable restore (restore + `sync -f`) ≤ 0.6× pgBackRest's", "ratio", 0.6),
    ("pitr", "PITR to read-write ≤ 0.6× pgBackRest", "ratio", 0.6),
    ("repo", "repository bytes after full + incremental ≤ 1.0× pgBackRest", "ratio", 1.0),
    ("memory", "peak memory of any Lifeboat process ≤ 64 MiB", "max", 64 * 1024 * 1024),
]


# The phases `restore --start --json` reports (docs/cli.md, restore); older binaries lack some.
PITR_PHASES = ("files_seconds", "sync_seconds", "replay_seconds", "startup_seconds", "redo_seconds",
               "end_of_recovery_seconds", "ready_seconds")


class StepFailed(Exception):
    pass


class Terminated(BaseException):
    pass


def _on_signal(signum, _frame):
    raise Terminated(f"signal {signum}")


def log(msg):
    now = time.monotonic() - T0
    print(f"[bench +{now:6.1f}s] {msg}", flush=True)


T0 = time.monotonic()


# ---------------------------------------------------------------------------------------------
# processes


def as_pg(argv):
    """argv run as the postgres account when we are root (PostgreSQL refuses root)."""
    if IS_ROOT:
        return ["runuser", "-u", PG_USER, "--"] + list(argv)
    return list(argv)


def drop_caches():
    """sync; echo 3 > /proc/sys/vm/drop_caches. Returns whether it worked."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        pass
    if not IS_ROOT and shutil.which("sudo"):
        r = subprocess.run(["sudo", "-n", "sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0
    return False


class Ctx:
    """Paths and state of one dataset's cluster."""

    def __init__(self, args, dataset, tmp):
        self.args = args
        self.dataset = dataset
        self.tmp = tmp
        self.logdir = os.path.join(tmp, "logs")
        self.lb = os.path.join(tmp, "bin", "lifeboat")
        self.pgdata = os.path.join(tmp, "pg")
        self.lbrepo = os.path.join(tmp, "lbrepo")
        self.pbrrepo = os.path.join(tmp, "pbrrepo")
        self.pbrconf = os.path.join(tmp, "pgbackrest.conf")
        self.port = None
        self.db = "bench_" + dataset
        self.started = []  # data directories of servers we started
        self.bg = []  # background Popen objects (own process groups)
        self.seq = 0

    def logfile(self, name):
        self.seq += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        return os.path.join(self.logdir, f"{self.seq:04d}-{safe}")

    def conninfo(self, port=None, db=None):
        return f"host={self.tmp} port={port or self.port} user={PG_USER} dbname={db or self.db}"


def measure(ctx, name, argv, *, pg=True, shell=False, ok_codes=(0,)):
    """Runs argv, waits with os.wait4 and returns the run's measurements.

    wait4 returns the resource usage of the child and of every descendant it waited for (the
    kernel's RUSAGE_BOTH for that child): user+sys CPU and ru_inblock of the whole tree. This is
    the per-command equivalent of RUSAGE_CHILDREN deltas.

    Peak memory is ru_maxrss, the largest single process of the tree, but not wait4's: a child
    forked by this Python process inherits Python's high-water RSS (fork copies it and exec keeps
    it), and RUSAGE_CHILDREN's ru_maxrss is a maximum over the benchmark's whole life. So the
    command runs under GNU time (/usr/bin/time -f %M), whose report is the ru_maxrss of its own
    child tree (runuser -> tool); the floor is runuser's few MiB.
    """
    if shell:
        argv = ["bash", "-c", argv]
    full = as_pg(argv) if pg else list(argv)
    base = ctx.logfile(name)
    # GNU time reports its child's ru_maxrss; see the docstring for why wait4's own is not used.
    full = [GNU_TIME, "-f", "%M", "-o", base + ".rss", "--"] + full
    with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
        t = time.monotonic()
        p = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ctx.tmp,
                             start_new_session=True)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            # Interrupted (SIGTERM, ^C): end what we started, by its process group.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(p.pid, 0)
            p.returncode = -9
            raise
        wall = time.monotonic() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(base + ".out", "rb") as f:
        stdout = f.read().decode(errors="replace")
    with open(base + ".err", "rb") as f:
        stderr = f.read().decode(errors="replace")
    try:
        with open(base + ".rss") as f:
            maxrss_kib = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        maxrss_kib = 0
    res = {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "maxrss_bytes": maxrss_kib * 1024,
        "read_bytes": ru.ru_inblock * 512,
        "written_bytes": ru.ru_oublock * 512,
        "exit": p.returncode,
        "stdout": stdout,
        "stderr": stderr,
    }
    if p.returncode not in ok_codes:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-8:])
        raise StepFailed(f"{name}: exit {p.returncode}: {' '.join(full)}\n{tail}")
    return res


def run(ctx, name, argv, *, pg=True, shell=False, ok_codes=(0,)):
    """An unmeasured helper command; returns its stdout."""
    return measure(ctx, name, argv, pg=pg, shell=shell, ok_codes=ok_codes)["stdout"]


def add_usage(total, part):
    for k in ("wall_s", "cpu_s", "user_s", "sys_s", "read_bytes", "written_bytes"):
        total[k] = total.get(k, 0) + part[k]
    total["maxrss_bytes"] = max(total.get("maxrss_bytes", 0), part["maxrss_bytes"])


def psql(ctx, sql, *, port=None, db=None, name="psql"):
    out = run(ctx, name, [os.path.join(PGBIN, "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                          "-d", ctx.conninfo(port, db), "-c", sql])
    return out.strip()


def free_port(ctx):
    for _ in range(200):
        port = 20000 + int.from_bytes(os.urandom(2), "little") % 30000
        if os.path.exists(os.path.join(ctx.tmp, f".s.PGSQL.{port}")):
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise StepFailed("no free port")


def tree_bytes(path):
    """Sum of the sizes of the regular files under path (apparent bytes, like du -sb)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_size
    return total


def pg_ctl_stop(ctx, datadir, mode="fast"):
    if os.path.exists(os.path.join(datadir, "postmaster.pid")):
        try:
            run(ctx, "pg_ctl-stop", [os.path.join(PGBIN, "pg_ctl"), "-D", datadir, "-m", mode, "-w",
                                     "-t", "120", "stop"])
        except StepFailed:
            run(ctx, "pg_ctl-stop-immediate", [os.path.join(PGBIN, "pg_ctl"), "-D", datadir, "-m",
                                               "immediate", "-w", "stop"], ok_codes=(0, 1))
    if datadir in ctx.started:
        ctx.started.remove(datadir)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def make_pg_dir(ctx, path):
    os.mkdir(path, 0o700)
    if IS_ROOT:
        shutil.chown(path, PG_USER, PG_USER)


# ---------------------------------------------------------------------------------------------
# cluster, tools


def setup_cluster(ctx):
    os.makedirs(os.path.join(ctx.tmp, "bin"))
    os.makedirs(ctx.logdir)
    shutil.copy2(ctx.args.lifeboat, ctx.lb)
    os.chmod(ctx.lb, 0o755)
    os.chmod(ctx.tmp, 0o755)
    for d in ("pbr-log", "pbr-lock", "pbr-spool"):
        os.makedirs(os.path.join(ctx.tmp, d))
    if IS_ROOT:
        for root, dirs, files in os.walk(ctx.tmp):
            for n in dirs + files:
                shutil.chown(os.path.join(root, n), PG_USER, PG_USER)
        shutil.chown(ctx.tmp, PG_USER, PG_USER)
    ctx.port = free_port(ctx)
    run(ctx, "initdb", [os.path.join(PGBIN, "initdb"), "-D", ctx.pgdata, "-k", "-A", "trust", "-U", PG_USER,
                        "-E", "UTF8", "--locale=C"])
    archive_command = (f"'{ctx.lb}' wal-push %p --repo '{ctx.lbrepo}' && "
                       f"pgbackrest --stanza=bench --config='{ctx.pbrconf}' archive-push %p")
    with open(os.path.join(ctx.pgdata, "postgresql.conf"), "a") as f:
        f.write(f"""
# added by bench/bench.py
listen_addresses = ''
unix_socket_directories = '{ctx.tmp}'
port = {ctx.port}
archive_mode = on
archive_command = '{archive_command.replace("'", "''")}'
wal_level = replica
track_commit_timestamp = on
max_wal_size = 1GB
shared_buffers = 256MB
""")
    with open(ctx.pbrconf, "w") as f:
        f.write(f"""[global]
repo1-path={ctx.pbrrepo}
repo1-retention-full=2
compress-type=zst
compress-level=3
process-max=2
start-fast=y
archive-async=n
log-level-console=warn
log-level-file=info
log-path={ctx.tmp}/pbr-log
lock-path={ctx.tmp}/pbr-lock
spool-path={ctx.tmp}/pbr-spool

[bench]
pg1-path={ctx.pgdata}
pg1-socket-path={ctx.tmp}
pg1-port={ctx.port}
pg1-user={PG_USER}
""")
    if IS_ROOT:
        shutil.chown(ctx.pbrconf, PG_USER, PG_USER)
    start_server(ctx, ctx.pgdata)
    init_repos(ctx)
    psql(ctx, f"CREATE DATABASE {ctx.db}", db="postgres")


def start_server(ctx, datadir, extra=""):
    ctx.started.append(datadir)
    argv = [os.path.join(PGBIN, "pg_ctl"), "-D", datadir, "-l", datadir + ".log", "-w", "-t", "600"]
    if extra:
        argv += ["-o", extra]
    return measure(ctx, "pg_ctl-start", argv + ["start"])


def wait_archive_idle(ctx, timeout=1800):
    """Waits until no WAL file waits for archiving (no .ready in archive_status)."""
    status = os.path.join(ctx.pgdata, "pg_wal", "archive_status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(n.endswith(".ready") for n in os.listdir(status)):
            return
        time.sleep(0.2)
    raise StepFailed("WAL archiving did not catch up within %d s (see %s.log)" % (timeout, ctx.pgdata))


def switch_wal_and_wait(ctx, timeout=300):
    seg = psql(ctx, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = psql(ctx, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if last and last[:24] >= seg:
            return seg
        time.sleep(0.2)
    raise StepFailed(f"WAL {seg} was not archived within {timeout} s")


def init_repos(ctx):
    """Fresh, empty repositories for both tools, recreated in place while no archiving is in
    flight (the archive_command writes to these fixed paths)."""
    wait_archive_idle(ctx)
    rmtree(ctx.lbrepo)
    rmtree(ctx.pbrrepo)
    run(ctx, "lb-repo-init", [ctx.lb, "repo-init", "--repo", ctx.lbrepo])
    run(ctx, "pbr-stanza-create", ["pgbackrest", "--config=" + ctx.pbrconf, "--stanza=bench", "stanza-create"])


def pbr(ctx, *args):
    return ["pgbackrest", "--config=" + ctx.pbrconf, "--stanza=bench"] + list(args)


def pbr_last_label(ctx):
    info = json.loads(run(ctx, "pbr-info", pbr(ctx, "info", "--output=json")))
    return info[0]["backup"][-1]["label"]


# ---------------------------------------------------------------------------------------------
# datasets

BUSINESS_SQL = r"""
SELECT setseed(0.4242);
CREATE TABLE customers (
  customer_id  integer PRIMARY KEY,
  name         text NOT NULL,
  email        text NOT NULL,
  phone        text NOT NULL,
  country      char(2) NOT NULL,
  city         text NOT NULL,
  segment      text NOT NULL,
  created_at   timestamptz NOT NULL,
  credit_limit numeric(12,2) NOT NULL,
  balance      numeric(12,2) NOT NULL,
  notes        text
);
INSERT INTO customers
SELECT i, fn || ' ' || ln,
       lower(fn) || '.' || lower(ln) || (i % 997) || '@' || dom,
       '+' || (1 + (r1 * 98)::int) || ' ' || lpad(((r2 * 1e9)::bigint)::text, 9, '0'),
       cc, city, seg,
       timestamptz '2015-01-01 00:00:00+00' + (r3 * 3000) * interval '1 day',
       round((r4 * 50000)::numeric, -2), round((r5 * 20000 - 5000)::numeric, 2),
       CASE WHEN r6 < 0.2 THEN NULL
            ELSE 'Prefers ' || chan || ' contact; ' || note || ' Account ref ' || md5(i::text) || '.'
       END
FROM (
  SELECT i,
    (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth',
           'William','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Carlos','Yuki',
           'Ahmed','Olga','Wei','Fatima','Lars','Ingrid','Pierre','Chiara','Mateo','Aisha'])[1 + (random() * 29)::int] AS fn,
    (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
           'Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor','Moore','Jackson','Martin',
           'Lee','Perez','Thompson','White','Harris','Sanchez','Clark','Ramirez','Lewis','Robinson',
           'Muller','Schmidt','Rossi','Tanaka','Nguyen','Kowalski','Dubois','Silva','Ivanov','Jensen'])[1 + (random() * 39)::int] AS ln,
    (ARRAY['example.com','mail.test','corp.example','shop.test','post.example'])[1 + (random() * 4)::int] AS dom,
    (ARRAY['US','DE','FR','GB','JP','BR','IN','IT','ES','NL','PL','SE','CA','MX','AU'])[1 + (random() * 14)::int] AS cc,
    (ARRAY['Springfield','Riverside','Franklin','Greenville','Bristol','Clinton','Fairview','Salem',
           'Madison','Georgetown','Arlington','Ashland','Dover','Oxford','Jackson','Burlington'])[1 + (random() * 15)::int] AS city,
    (ARRAY['retail','retail','retail','wholesale','enterprise','public sector'])[1 + (random() * 5)::int] AS seg,
    (ARRAY['email','phone','postal mail','text message'])[1 + (random() * 3)::int] AS chan,
    (ARRAY['Pays on time.','Asked for a discount on bulk orders.','Returned two items last year.',
           'VIP since the spring campaign.','Requires invoices in PDF.','Ships to a warehouse address.',
           'Disputed one charge, resolved.','Interested in the loyalty program.'])[1 + (random() * 7)::int] AS note,
    random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6
  FROM generate_series(1, :ncust) AS i
) s;

CREATE TABLE orders (
  order_id    bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  status      text NOT NULL,
  ordered_at  timestamptz NOT NULL,
  shipped_at  timestamptz,
  amount      numeric(12,2) NOT NULL,
  currency    char(3) NOT NULL,
  items       integer NOT NULL,
  sku         text NOT NULL,
  ship_to     text NOT NULL,
  tracking    text
);
INSERT INTO orders
SELECT i, 1 + (r1 * (:ncust - 1))::int, st,
       timestamptz '2019-01-01 00:00:00+00' + (i::float8 / :nord * 1800) * interval '1 day' + r2 * interval '6 hours',
       CASE WHEN st IN ('shipped', 'delivered') THEN timestamptz '2019-01-02 00:00:00+00' + (i::float8 / :nord * 1800) * interval '1 day' + r3 * interval '3 days' END,
       round((5 + r4 * r4 * 900)::numeric, 2), cur, 1 + (r5 * 7)::int,
       'SKU-' || lpad((1 + (r6 * 20000)::int)::text, 6, '0') || '-' || (ARRAY['S','M','L','XL'])[1 + (r7 * 3)::int],
       (1 + (r8 * 2500)::int) || ' ' || street || ', ' || city,
       CASE WHEN st IN ('shipped', 'delivered') THEN upper(substr(md5(i::text || 'trk'), 1, 18)) END
FROM (
  SELECT i,
    (ARRAY['delivered','delivered','delivered','shipped','paid','pending','cancelled','refunded'])[1 + (random() * 7)::int] AS st,
    (ARRAY['USD','USD','EUR','EUR','GBP','JPY'])[1 + (random() * 5)::int] AS cur,
    (ARRAY['Main Street','Oak Avenue','Maple Road','Cedar Lane','Park Boulevard','Elm Street',
           'Washington Avenue','Lake Drive','Hill Road','Church Street'])[1 + (random() * 9)::int] AS street,
    (ARRAY['Springfield','Riverside','Franklin','Greenville','Bristol','Clinton','Fairview','Salem'])[1 + (random() * 7)::int] AS city,
    random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6,
    random() AS r7, random() AS r8
  FROM generate_series(1, :nord) AS i
) s;

CREATE TABLE events (
  event_id    bigserial PRIMARY KEY,
  customer_id integer NOT NULL,
  order_id    bigint,
  kind        text NOT NULL,
  created_at  timestamptz NOT NULL,
  payload     text NOT NULL
);
INSERT INTO events (event_id, customer_id, order_id, kind, created_at, payload)
SELECT i, 1 + (r1 * (:ncust - 1))::int, CASE WHEN r2 < 0.6 THEN 1 + (r2 / 0.6 * (:nord - 1))::bigint END, kind,
       timestamptz '2021-01-01 00:00:00+00' + (i::float8 / :nevt * 1000) * interval '1 day',
       '{"session":"' || md5(i::text) || '","ip":"10.' || (r3 * 255)::int || '.' || (r4 * 255)::int ||
       '.' || (r5 * 255)::int || '","agent":"' || ua || '","trace":"' || substr(md5(i::text || 'trace'), 1, 24) || '","path":"/' || path || '/' || (r6 * 5000)::int ||
       '","ms":' || (1 + r7 * r7 * 2000)::int || ',"cart":' || (r8 * 1e7)::int || '}'
FROM (
  SELECT i,
    (ARRAY['page_view','page_view','page_view','search','add_to_cart','checkout','login','logout','payment_ok',
           'payment_failed'])[1 + (random() * 9)::int] AS kind,
    (ARRAY['chrome/120 win','safari/605 mac','firefox/121 linux','mobile ios/17',
           'chrome/120 android'])[1 + (random() * 4)::int] AS ua,
    (ARRAY['products','cart','account','search','help','orders','deals'])[1 + (random() * 6)::int] AS path,
    random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6, random() AS r7,
    random() AS r8
  FROM generate_series(1, :nevt) AS i
) s;
SELECT setval('events_event_id_seq', :nevt);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  order_id    bigint NOT NULL,
  customer_id integer NOT NULL,
  delta       integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON orders (ordered_at);
CREATE INDEX events_created_at_idx ON events (created_at);
CREATE INDEX customers_email_idx ON customers (email);
VACUUM ANALYZE;
"""

# The business write workload (pgbench -f): one order changes state, the customer's balance
# moves, an event and an audit row are appended.
BUSINESS_WRITES = r"""\set cid random(1, :ncust)
\set oid random(1, :nord)
\set amt random(1, 100000)
BEGIN;
UPDATE orders SET status = 'shipped', shipped_at = now(), amount = amount + :amt / 100.0 WHERE order_id = :oid;
UPDATE customers SET balance = balance + :amt / 100.0 WHERE customer_id = :cid;
INSERT INTO events (customer_id, order_id, kind, created_at, payload) VALUES (:cid, :oid, 'order_shipped', now(), '{"source":"bench","amount":' || :amt || '}');
INSERT INTO audit_log (order_id, customer_id, delta) VALUES (:oid, :cid, :amt);
END;
"""


def business_counts(scale):
    return {"ncust": 3000 * scale, "nord": 28000 * scale, "nevt": 30000 * scale}


def load_dataset(ctx):
    scale = ctx.args.scale
    t = time.monotonic()
    if ctx.dataset == "pgbench":
        run(ctx, "pgbench-init", [os.path.join(PGBIN, "pgbench"), "-i", "-s", str(scale), "-q",
                                  "-h", ctx.tmp, "-p", str(ctx.port), "-U", PG_USER, ctx.db])
        ctx.history = "pgbench_history"
    else:
        counts = business_counts(scale)
        sql = os.path.join(ctx.tmp, "business.sql")
        with open(sql, "w") as f:
            f.write(BUSINESS_SQL)
        writes = os.path.join(ctx.tmp, "business-writes.sql")
        with open(writes, "w") as f:
            f.write(BUSINESS_WRITES)
        argv = [os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ctx.conninfo(), "-f", sql]
        for k, v in counts.items():
            argv += ["-v", f"{k}={v}"]
        run(ctx, "business-load", argv)
        ctx.history = "audit_log"
    psql(ctx, "CHECKPOINT")
    load_s = time.monotonic() - t
    sizes = {}
    for row in psql(ctx, "SELECT c.relname, pg_relation_size(c.oid), pg_relation_filepath(c.oid) FROM pg_class c "
                         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                         "AND c.relkind IN ('r', 'i') ORDER BY 2 DESC").splitlines():
        name, size, path = row.split("|")
        sizes[name] = {"bytes": int(size), "path": path}
    db_bytes = int(psql(ctx, f"SELECT pg_database_size('{ctx.db}')"))
    return {"load_seconds": load_s, "database_bytes": db_bytes, "relations": sizes,
            "compression": compression_ratios(ctx, sizes)}


def compression_ratios(ctx, sizes):
    """zstd -3 on the first segment file of the largest tables: the data's compressibility."""
    out = {}
    tables = [n for n in sizes if not n.endswith(("_pkey", "_idx"))][:3]
    for name in tables:
        path = os.path.join(ctx.pgdata, sizes[name]["path"])
        if sizes[name]["bytes"] == 0:
            continue
        r = subprocess.run(["zstd", "-3", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        raw = os.path.getsize(path)
        out[name] = {"raw_bytes": raw, "zstd3_bytes": len(r.stdout), "ratio": raw / max(1, len(r.stdout))}
    return out


def writes_argv(ctx, seconds, clients=2):
    argv = [os.path.join(PGBIN, "pgbench"), "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-n",
            "-h", ctx.tmp, "-p", str(ctx.port), "-U", PG_USER]
    if ctx.dataset == "business":
        argv += ["-f", os.path.join(ctx.tmp, "business-writes.sql")]
        for k, v in business_counts(ctx.args.scale).items():
            argv += ["-D", f"{k}={v}"]
    return argv + [ctx.db]


def tps_of(out):
    m = re.search(r"tps = ([0-9.]+)", out)
    return float(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------------
# steps


class Recorder:
    def __init__(self, args, out_json, out_md):
        self.args = args
        self.out_json = out_json
        self.out_md = out_md
        self.data = {"meta": {}, "datasets": {}, "failures": [], "complete": False}

    def ds(self, name):
        return self.data["datasets"].setdefault(name, {"info": {}, "limits": [], "runs": []})

    def add_run(self, dataset, rep, tool, step, res, extra=None):
        r = {k: v for k, v in res.items() if k not in ("stdout", "stderr")}
        r.update({"rep": rep, "tool": tool, "step": step})
        if extra:
            r.update(extra)
        self.ds(dataset)["runs"].append(r)
        self.save()
        log(f"  {dataset} rep {rep} {tool:10s} {step:8s} {r['wall_s']:8.2f} s wall, cpu {r['cpu_s']:7.2f} s, "
            f"rss {r['maxrss_bytes'] / 2**20:6.1f} MiB, read {r['read_bytes'] / 2**20:8.1f} MiB"
            + (f", repo {r['repo_bytes'] / 2**20:8.1f} MiB" if r.get("repo_bytes") is not None else "")
            + ("" if r.get("ok", True) else "  FAILED"))

    def fail(self, dataset, rep, tool, step, msg):
        self.data["failures"].append({"dataset": dataset, "rep": rep, "tool": tool, "step": step, "error": msg})
        log(f"FAIL {dataset} rep {rep} {tool} {step}: {msg}")
        self.save()

    def save(self):
        tmp = self.out_json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, default=str)
        os.replace(tmp, self.out_json)

    def save_md(self):
        md = render_md(self.data)
        with open(self.out_md, "w") as f:
            f.write(md)
        return md


def measure_limits(ctx, rec, rep):
    """The machine's limits on the same data: read it (tar | cat) and compress it (tar | zstd)."""
    tar = f"tar cf - -C '{ctx.pgdata}' --exclude='./pg_wal/*' ."
    data_bytes = tree_bytes(ctx.pgdata) - tree_bytes(os.path.join(ctx.pgdata, "pg_wal"))
    row = {"rep": rep, "data_bytes": data_bytes}
    # wc -c counts the compressed bytes (the whole data directory's ratio) at no measurable cost.
    for key, cmd in (("tar_cat", f"{tar} | cat > /dev/null"), ("tar_zstd", f"{tar} | zstd -3 -T2 | wc -c")):
        dropped = drop_caches()
        # tar exits 1 when a file changed while it read it (a live cluster): not an error here.
        res = measure(ctx, key, f"set -o pipefail; {cmd}", shell=True, ok_codes=(0, 1))
        row[key] = {"wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "read_bytes": res["read_bytes"],
                    "caches_dropped": dropped}
        if key == "tar_zstd" and res["stdout"].strip().isdigit():
            row["zstd3_bytes"] = int(res["stdout"].strip())
        log(f"  {ctx.dataset} rep {rep} limit {key:9s} {res['wall_s']:8.2f} s "
            f"({data_bytes / 2**20 / max(res['wall_s'], 1e-9):7.1f} MiB/s of {data_bytes / 2**20:.0f} MiB)")
    rec.ds(ctx.dataset)["limits"].append(row)
    rec.save()


def machine_busy_s():
    """CPU seconds (all cores, all processes) the machine has been busy since boot: the delta
    over a run minus the run's own CPU shows how much else ran (a shared machine's noise)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError):
        return None


def timed(ctx, rec, rep, tool, step, fn):
    """Runs one measured step; records it or its failure. Returns the step's result or None."""
    dropped = drop_caches()
    load = os.getloadavg()[0]
    busy = machine_busy_s()
    try:
        res, extra = fn()
    except StepFailed as e:
        rec.fail(ctx.dataset, rep, tool, step, str(e))
        return None
    extra = dict(extra or {})
    extra["caches_dropped"] = dropped
    extra["loadavg1_before"] = load
    after = machine_busy_s()
    if busy is not None and after is not None:
        extra["machine_busy_s"] = after - busy
    rec.add_run(ctx.dataset, rep, tool, step, res, extra)
    if not extra.get("ok", True):
        rec.fail(ctx.dataset, rep, tool, step, extra.get("error", "check failed"))
    return res, extra


def lb_backup(ctx, label):
    res = measure(ctx, f"lb-backup-{label}", [ctx.lb, "backup", "--repo", ctx.lbrepo, "--pg", ctx.conninfo(),
                                              "--jobs", "2", "--json"])
    out = json.loads(res["stdout"])
    return res, {"backup": out.get("id"), "repo_bytes": tree_bytes(ctx.lbrepo),
                 "tool_data_bytes": out.get("data_bytes"), "tool_stored_bytes": out.get("stored_bytes"),
                 "new_blocks": out.get("new_blocks"), "tool_read_bytes": out.get("read_bytes"),
                 "incremental": out.get("incremental")}


def changed_table(ctx):
    return "pgbench_accounts" if ctx.dataset == "pgbench" else "orders"


def pristine_copy(ctx):
    return os.path.join(ctx.tmp, "pristine", changed_table(ctx) + ".copy")


def save_pristine(ctx):
    """Keeps the changed table's rows as loaded (in load order), outside the database, for
    reset_changed_table."""
    make_pg_dir(ctx, os.path.dirname(pristine_copy(ctx)))
    psql(ctx, f"COPY {changed_table(ctx)} TO '{pristine_copy(ctx)}'", name="save-pristine")


def reset_changed_table(ctx):
    """Puts the changed table back as the load left it: the rows in load order, the indexes
    built after them, then VACUUM ANALYZE (as the load ends). Compacting instead (VACUUM FULL or
    CLUSTER) keeps rows the repetition's UPDATEs moved away from their neighbours, leaves pages
    with room for one more row, which the free space map then hands out all over the table, and
    so each repetition's hot-set UPDATE touched more blocks than the one before (business: 314,
    493, 773 blocks after 1% of pages; 1,469, 2,091, 2,116 after 10%)."""
    table = changed_table(ctx)
    key = "aid" if ctx.dataset == "pgbench" else "order_id"
    indexes = psql(ctx, f"SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = '{table}' "
                        f"AND indexname <> '{table}_pkey' ORDER BY indexname").splitlines()
    names = psql(ctx, f"SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = '{table}' "
                      f"AND indexname <> '{table}_pkey' ORDER BY indexname").splitlines()
    sql = [f"TRUNCATE {table}", f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey"]
    sql += [f"DROP INDEX {name}" for name in names]
    sql += [f"COPY {table} FROM '{pristine_copy(ctx)}'", f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"]
    sql += indexes
    psql(ctx, "; ".join(sql), name="reset-changed-table")
    psql(ctx, f"VACUUM ANALYZE {table}", name="reset-vacuum")


def change_sql(ctx, percent):
    """Updates `percent` % of the main table's rows, spread over the whole table."""
    if ctx.dataset == "pgbench":
        return f"UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 < {percent}"
    return f"UPDATE orders SET status = status WHERE order_id % 100 < {percent}"


def hot_pages_sql(ctx, percent):
    """Updates every row on a hot set of `percent` % of the main table's pages: runs of 16
    consecutive pages (128 KiB) chosen by a hash of the run's number, so the set is spread over
    the table but clustered the way hot data is (recent rows, busy customers)."""
    table, column = ("pgbench_accounts", "abalance = abalance + 1") if ctx.dataset == "pgbench" \
        else ("orders", "status = status")
    return (f"UPDATE {table} SET {column} "
            f"WHERE abs(hashint4(((ctid::text::point)[0])::int / 16)) % 100 < {percent}")


def settle_before_hot_sets(ctx):
    """The table as a database that has settled after its last burst. The 30 s of writes left
    tuples whose commit hint bits are not set yet; with data checksums the first scan that sets
    them (the hot-set UPDATE's own) WAL-logs a full-page image of each such page, about 40% of
    the table, which would be measured as part of the 1% change. A scan sets them now, and both
    tools take one incremental, not measured, so that the hot-set incrementals start from the
    same settled state. Not VACUUM: it would enter the pages the writes left a free slot in into
    the free space map, and the hot-set UPDATE's new row versions would then land all over the
    table instead of in the hot pages and at its end."""
    psql(ctx, f"SELECT count(*) FROM {changed_table(ctx)}", name="settle-scan")
    psql(ctx, "CHECKPOINT")
    switch_wal_and_wait(ctx)
    wait_archive_idle(ctx)
    lb_backup(ctx, "settle")
    pbr_backup(ctx, "incr")


def with_added(ctx, tool, fn):
    """Runs a backup step and records the repository bytes it added."""
    before = tree_bytes(ctx.lbrepo if tool == LB else ctx.pbrrepo)
    res, extra = fn()
    extra["added_bytes"] = extra["repo_bytes"] - before
    return res, extra


def pbr_backup(ctx, kind):
    res = measure(ctx, f"pbr-backup-{kind}", pbr(ctx, "backup", f"--type={kind}"))
    return res, {"backup": pbr_last_label(ctx), "repo_bytes": tree_bytes(ctx.pbrrepo)}


def restore_dir(ctx, tool, what):
    d = os.path.join(ctx.tmp, f"restore-{tool}-{what}")
    rmtree(d)
    make_pg_dir(ctx, d)
    return d


def sync_after_restore(ctx, d):
    """Seconds `sync -f DIR` takes right after a restore: what is left to make the restored files
    durable (a tool that fsyncs its files leaves almost nothing). Not part of the step's time."""
    res = measure(ctx, "sync-restored", ["sync", "-f", d])
    return {"restored_bytes": tree_bytes(d), "sync_s": res["wall_s"]}


def lb_restore(ctx, backup_id):
    d = restore_dir(ctx, LB, "full")
    try:
        res = measure(ctx, "lb-restore", [ctx.lb, "restore", "--repo", ctx.lbrepo, "--to", "latest", "--backup", backup_id,
                                          "--target-dir", d, "--jobs", "2", "--json"])
        return res, sync_after_restore(ctx, d)
    finally:
        rmtree(d)


def pbr_restore(ctx, label):
    d = restore_dir(ctx, PBR, "full")
    try:
        res = measure(ctx, "pbr-restore", pbr(ctx, "restore", "--pg1-path=" + d, "--set=" + label, "--type=immediate"))
        return res, sync_after_restore(ctx, d)
    finally:
        rmtree(d)


def check_restored(ctx, port, pitr):
    got = int(psql(ctx, f"SELECT count(*) FROM {ctx.history}", port=port, name="pitr-check"))
    ok = got == pitr["want"]
    extra = {"ok": ok, "rows_restored": got, "rows_expected": pitr["want"], "target": pitr["target"]}
    if not ok:
        extra["error"] = (f"PITR to {pitr['target']}: {ctx.history} has {got} rows, expected {pitr['want']} "
                          f"(committed at or before the target on the source; {pitr['total']} in all)")
    return extra


def lb_pitr(ctx, pitr):
    d = restore_dir(ctx, LB, "pitr")
    port = free_port(ctx)
    ctx.started.append(d)
    try:
        res = measure(ctx, "lb-pitr", [ctx.lb, "restore", "--repo", ctx.lbrepo, "--to", pitr["target_iso"],
                                       "--target-dir", d, "--port", str(port), "--start", "--jobs", "2", "--json"])
        out = json.loads(res["stdout"])
        extra = check_restored(ctx, port, pitr)
        extra["phases"] = out.get("phases")
        extra["backup"] = out.get("backup")
        return res, extra
    finally:
        pg_ctl_stop(ctx, d, "immediate")
        rmtree(d)


def pbr_pitr(ctx, pitr):
    d = restore_dir(ctx, PBR, "pitr")
    port = free_port(ctx)
    total = {}
    t = time.monotonic()
    try:
        part = measure(ctx, "pbr-pitr-restore", pbr(ctx, "restore", "--pg1-path=" + d, "--type=time",
                                                    "--target=" + pitr["target_pg"], "--target-action=promote"))
        add_usage(total, part)
        files_s = time.monotonic() - t
        # Like lifeboat's restored instances: no archiving from the copy.
        part = start_server(ctx, d, f"-p {port} -c archive_mode=off")
        add_usage(total, part)
        while True:
            part = measure(ctx, "pbr-pitr-poll", [os.path.join(PGBIN, "psql"), "-X", "-A", "-t", "-q", "-d",
                                                  ctx.conninfo(port, "postgres"), "-c", "SELECT NOT pg_is_in_recovery()"],
                           ok_codes=(0, 1, 2))
            add_usage(total, part)
            if part["stdout"].strip() == "t":
                break
            if time.monotonic() - t > 1800:
                raise StepFailed("pgBackRest PITR: the server did not leave recovery within 30 minutes")
            if not os.path.exists(os.path.join(d, "postmaster.pid")):
                raise StepFailed(f"pgBackRest PITR: the restored server stopped (see {d}.log)")
            time.sleep(0.05)
        total["wall_s"] = time.monotonic() - t
        total["exit"] = 0
        extra = check_restored(ctx, port, pitr)
        extra["phases"] = {"files_seconds": files_s}
        return total, extra
    finally:
        pg_ctl_stop(ctx, d, "immediate")
        rmtree(d)
        try:
            os.unlink(d + ".log")
        except OSError:
            pass


def pitr_burst(ctx, seconds):
    """A write burst; the target is in its middle, adjusted to the middle of the widest gap
    between two consecutive commits near it (commit timestamps are taken just before the commit
    record is written, so two commits microseconds apart may reach WAL in the other order)."""
    before = int(psql(ctx, f"SELECT count(*) FROM {ctx.history}"))
    p = subprocess.Popen(as_pg(writes_argv(ctx, seconds)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=ctx.tmp, start_new_session=True)
    ctx.bg.append(p)
    time.sleep(seconds / 2)
    mid = psql(ctx, "SELECT clock_timestamp()")
    out, _ = p.communicate()
    ctx.bg.remove(p)
    if p.returncode != 0:
        raise StepFailed(f"pgbench burst failed: {out.decode(errors='replace')[-500:]}")
    half = seconds / 4
    target = psql(ctx, f"""
WITH c AS (SELECT DISTINCT pg_xact_commit_timestamp(xmin) AS ts FROM {ctx.history}),
o AS (SELECT ts, lead(ts) OVER (ORDER BY ts) AS nxt FROM c)
SELECT to_char((ts + (nxt - ts) / 2) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM o WHERE ts BETWEEN '{mid}'::timestamptz - interval '{half} s' AND '{mid}'::timestamptz + interval '{half} s'
  AND nxt IS NOT NULL
ORDER BY nxt - ts DESC, ts LIMIT 1""")
    if not target:
        raise StepFailed(f"no commit near the middle of the burst ({mid})")
    target_pg = target.replace("T", " ").replace("Z", "+00")
    want = int(psql(ctx, f"SELECT count(*) FROM {ctx.history} WHERE pg_xact_commit_timestamp(xmin) <= '{target_pg}'"))
    total = int(psql(ctx, f"SELECT count(*) FROM {ctx.history}"))
    if not (before < want < total):
        raise StepFailed(f"target {target}: expected rows {want} not strictly between {before} and {total}")
    settle_source(ctx, vacuum=True)
    burst_tps = tps_of(out.decode(errors="replace")) or 0
    log(f"  burst: {burst_tps:.0f} tps, target {target} ({want} of {total} rows)")
    return {"target_iso": target, "target_pg": target_pg, "target": target, "want": want, "total": total,
            "tps": tps_of(out.decode(errors="replace"))}


def settle_source(ctx, vacuum):
    """The source quiet before restores or PITRs are timed. Otherwise autovacuum and the
    checkpointer worked after the last writes during the first restore or PITR of the repetition,
    on the same 2 cores, and the tool that went first (Lifeboat in 2 of 3 repetitions) was timed
    against that: in one run Lifeboat's PITR file phase took 3.8-7.1 s and pgBackRest's restore
    4.6-9.1 s for the same work. `vacuum`: after the PITR burst, whose WAL after the target no
    PITR replays, the vacuum the burst calls for is run now; before the restores only a vacuum
    already running is waited for, so that the WAL the PITR replays stays what it was."""
    if vacuum:
        psql(ctx, "VACUUM ANALYZE", name="settle-vacuum")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and int(psql(
            ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
            name="settle-autovacuum")) > 0:
        time.sleep(0.5)
    psql(ctx, "CHECKPOINT")
    switch_wal_and_wait(ctx)
    wait_archive_idle(ctx)


def wal_segment_before(name, n, segment_size):
    """The name of the segment `n` before segment file `name` on its timeline."""
    per_log = 0x100000000 // segment_size
    number = int(name[8:16], 16) * per_log + int(name[16:24], 16) - n
    return f"{name[:8]}{number // per_log:08X}{number % per_log:08X}"


def measure_wal_prefetch(ctx, rec, step, first, count, scratch):
    """The detached prefetch process wal-fetch starts (restore_command): its memory on the
    `count` segments from `first` on, fetched as it fetches them while PostgreSQL replays."""
    size = int(psql(ctx, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"))
    spool = os.path.join(scratch, "spool-" + first)
    make_pg_dir(ctx, spool)
    res = measure(ctx, "lb-" + step.replace(" ", "-"), [
        ctx.lb, "wal-prefetch", "--repo", ctx.lbrepo, "--spool", spool,
        "--after", wal_segment_before(first, 1, size), "--segment-size", str(size), "--count", str(count)])
    spooled = sum(1 for f in os.listdir(spool) if not f.startswith("."))
    rec.add_run(ctx.dataset, 0, LB, f"{step} ({spooled} segments)", res)


def measure_wal_tools(ctx, rec):
    """wal-push and wal-fetch run under PostgreSQL's archiver and startup processes, outside the
    measured process trees; measure their memory once on a real segment."""
    try:
        seg = psql(ctx, "SELECT last_archived_wal FROM pg_stat_archiver")[:24]
        if not re.fullmatch(r"[0-9A-F]{24}", seg or ""):
            return
        scratch = os.path.join(ctx.tmp, "walscratch")
        os.mkdir(scratch)
        if IS_ROOT:
            shutil.chown(scratch, PG_USER, PG_USER)
        fetched = os.path.join(scratch, seg)
        res = measure(ctx, "lb-wal-fetch", [ctx.lb, "wal-fetch", seg, fetched, "--repo", ctx.lbrepo])
        rec.add_run(ctx.dataset, 0, LB, "wal-fetch", res)
        size = int(psql(ctx, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"))
        measure_wal_prefetch(ctx, rec, "wal-prefetch", wal_segment_before(seg, 7, size), 8, scratch)
        repo = os.path.join(scratch, "repo")
        run(ctx, "lb-repo-init-scratch", [ctx.lb, "repo-init", "--repo", repo])
        res = measure(ctx, "lb-wal-push", [ctx.lb, "wal-push", fetched, "--repo", repo])
        rec.add_run(ctx.dataset, 0, LB, "wal-push", res)
        rmtree(scratch)
    except StepFailed as e:
        rec.fail(ctx.dataset, 0, LB, "wal-push/fetch", str(e))


def measure_wal_tools_incompressible(ctx, rec):
    """The worst case for wal-push / wal-fetch memory: a segment of incompressible bytes (64 KiB
    pseudo-random values, stored uncompressed). Run once at the end of a dataset, so the extra WAL
    and table never reach a measured backup."""
    try:
        start = psql(ctx, "SELECT pg_walfile_name(pg_current_wal_insert_lsn() + 16777216)")
        psql(ctx, "CREATE TABLE bench_random (b bytea); ALTER TABLE bench_random ALTER b SET STORAGE EXTERNAL; "
                  "INSERT INTO bench_random SELECT (SELECT decode(string_agg(md5(i::text || '-' || j::text), ''), 'hex') "
                  "FROM generate_series(1, 4096) j) FROM generate_series(1, 600) i")
        switch_wal_and_wait(ctx)
        scratch = os.path.join(ctx.tmp, "walscratch-random")
        make_pg_dir(ctx, scratch)
        fetched = os.path.join(scratch, start)
        res = measure(ctx, "lb-wal-fetch-random", [ctx.lb, "wal-fetch", start, fetched, "--repo", ctx.lbrepo])
        rec.add_run(ctx.dataset, 0, LB, "wal-fetch (incompressible)", res)
        measure_wal_prefetch(ctx, rec, "wal-prefetch incompressible", start, 2, scratch)
        r = subprocess.run(["zstd", "-3", "-c", fetched], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        ratio_ = os.path.getsize(fetched) / max(1, len(r.stdout))
        repo = os.path.join(scratch, "repo")
        run(ctx, "lb-repo-init-scratch", [ctx.lb, "repo-init", "--repo", repo])
        res = measure(ctx, "lb-wal-push-random", [ctx.lb, "wal-push", fetched, "--repo", repo])
        rec.add_run(ctx.dataset, 0, LB, "wal-push (incompressible)", res, {"zstd3_ratio": ratio_})
        psql(ctx, "DROP TABLE bench_random")
        rmtree(scratch)
    except StepFailed as e:
        rec.fail(ctx.dataset, 0, LB, "wal-push/fetch (incompressible)", str(e))


def run_dataset(args, rec, dataset):
    tmp = tempfile.mkdtemp(prefix=f"lbbench-{dataset}.", dir=args.tmp_base)
    ctx = Ctx(args, dataset, tmp)
    log(f"dataset {dataset}: cluster in {tmp}")
    info = rec.ds(dataset)["info"]
    try:
        setup_cluster(ctx)
        info.update(load_dataset(ctx))
        ratios = ", ".join(f"{n} {c['ratio']:.2f}:1" for n, c in info["compression"].items())
        log(f"  loaded {info['database_bytes'] / 2**20:.0f} MiB in {info['load_seconds']:.0f} s; "
            f"zstd -3 on table files: {ratios}")
        info["history_table"] = ctx.history
        if args.reps > 1:
            save_pristine(ctx)
        rec.save()
        for rep in range(args.reps):
            order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
            log(f"dataset {dataset}: repetition {rep + 1} of {args.reps} (order: {', '.join(order)})")
            measure_limits(ctx, rec, rep)
            init_repos(ctx)
            info.setdefault("data_bytes", tree_bytes(ctx.pgdata) - tree_bytes(os.path.join(ctx.pgdata, "pg_wal")))
            full = {}
            for tool in order:
                if tool == LB:
                    r = timed(ctx, rec, rep, tool, "full", lambda: lb_backup(ctx, "full"))
                else:
                    r = timed(ctx, rec, rep, tool, "full", lambda: pbr_backup(ctx, "full"))
                full[tool] = r[1]["backup"] if r else None
            out = run(ctx, "pgbench-writes", writes_argv(ctx, args.write_seconds))
            log(f"  {args.write_seconds} s of writes: {tps_of(out) or 0:.0f} tps")
            for tool in order:
                if tool == LB:
                    timed(ctx, rec, rep, tool, "incr", lambda: lb_backup(ctx, "incr"))
                else:
                    timed(ctx, rec, rep, tool, "incr", lambda: pbr_backup(ctx, "incr"))
            # The hot sets first: the 30% change leaves enough dead rows for autovacuum to visit
            # every page of the table soon after, which would be part of the next incremental.
            if any(step in args.steps for step in ("incr_pages1", "incr_pages10")):
                settle_before_hot_sets(ctx)
            for step, sql in (("incr_pages1", hot_pages_sql(ctx, 1)), ("incr_pages10", hot_pages_sql(ctx, 10)),
                              ("incr_small", change_sql(ctx, 1)), ("incr_large", change_sql(ctx, 30))):
                if step not in args.steps:
                    continue
                psql(ctx, sql, name=f"change-{step}")
                psql(ctx, "CHECKPOINT")
                # The change's WAL is archived before either clock starts: otherwise whichever
                # tool runs first also waits for the archiver's backlog.
                switch_wal_and_wait(ctx)
                wait_archive_idle(ctx)
                for tool in order:
                    if tool == LB:
                        timed(ctx, rec, rep, tool, step, lambda: with_added(ctx, LB, lambda: lb_backup(ctx, step)))
                    else:
                        timed(ctx, rec, rep, tool, step, lambda: with_added(ctx, PBR, lambda: pbr_backup(ctx, "incr")))
            settle_source(ctx, vacuum=False)
            for tool in order:
                if full.get(tool) is None:
                    rec.fail(dataset, rep, tool, "restore", "no full backup to restore")
                elif tool == LB:
                    timed(ctx, rec, rep, tool, "restore", lambda: lb_restore(ctx, full[LB]))
                else:
                    timed(ctx, rec, rep, tool, "restore", lambda: pbr_restore(ctx, full[PBR]))
            try:
                pitr = pitr_burst(ctx, args.write_seconds)
            except StepFailed as e:
                rec.fail(dataset, rep, "both", "pitr", str(e))
                pitr = None
            if pitr:
                for tool in order:
                    fn = (lambda: lb_pitr(ctx, pitr)) if tool == LB else (lambda: pbr_pitr(ctx, pitr))
                    timed(ctx, rec, rep, tool, "pitr", fn)
            if rep == 0:
                measure_wal_tools(ctx, rec)
            # The changes above leave the changed table a third larger and its rows moved; put it
            # back as loaded so that every repetition starts from the same data (its WAL is
            # archived before the next one).
            if rep + 1 < args.reps:
                reset_changed_table(ctx)
            rec.save_md()
        measure_wal_tools_incompressible(ctx, rec)
    except StepFailed as e:
        rec.fail(dataset, None, "setup", "setup", str(e))
    finally:
        cleanup(ctx)
        rec.save_md()


def run_object_storage(args, rec):
    """Backup to S3 (s3rver on loopback) and copy to a second bucket: bench/s3_copy.sh."""
    log("object storage: backup to S3 and copy to a second bucket (bench/s3_copy.sh)")
    p = subprocess.run(["bash", os.path.join(BENCH_DIR, "s3_copy.sh"), "--scale", str(args.scale),
                        "--lifeboat", args.lifeboat], capture_output=True, text=True)
    if p.returncode != 0:
        rec.fail(None, None, LB, "object storage", (p.stderr.strip() or p.stdout.strip())[-2000:])
        return
    rec.data["object_storage"] = p.stdout
    log("  " + p.stdout.strip().replace("\n", "\n  "))
    rec.save()


def cleanup(ctx):
    for p in list(ctx.bg):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
    for d in list(ctx.started)[::-1]:
        try:
            pg_ctl_stop(ctx, d, "immediate")
        except Exception as e:  # noqa: BLE001 - best effort
            log(f"warning: cannot stop the server in {d}: {e}")
    if ctx.args.keep:
        log(f"--keep: left {ctx.tmp}")
    else:
        rmtree(ctx.tmp)


# ---------------------------------------------------------------------------------------------
# report


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_s(v):
    return "—" if v is None else (f"{v:.2f} s" if v < 100 else f"{v:.0f} s")


def fmt_b(v):
    if v is None:
        return "—"
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if v >= div:
            return f"{v / div:.1f} {unit}"
    return f"{v:.0f} B"


def fmt_r(v):
    return "—" if v is None else f"{v:.2f}"


def summarize(ds):
    """Medians per (step, tool) over the successful runs."""
    s = {}
    for step in STEPS:
        for tool in TOOLS:
            runs = [r for r in ds["runs"] if r["step"] == step and r["tool"] == tool and r.get("ok", True)]
            s[(step, tool)] = {
                "n": len(runs),
                "wall_s": med([r["wall_s"] for r in runs]),
                "cpu_s": med([r["cpu_s"] for r in runs]),
                "maxrss_bytes": med([r["maxrss_bytes"] for r in runs]),
                "max_maxrss_bytes": max([r["maxrss_bytes"] for r in runs], default=None),
                "read_bytes": med([r["read_bytes"] for r in runs]),
                "repo_bytes": med([r.get("repo_bytes") for r in runs]),
                "added_bytes": med([r.get("added_bytes") for r in runs]),
                "durable_s": med([r["wall_s"] + r["sync_s"] for r in runs if r.get("sync_s") is not None]),
                "walls": [r["wall_s"] for r in runs],
                "phases": {k: med([(r.get("phases") or {}).get(k) for r in runs])
                           for k in PITR_PHASES},
            }
    return s


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def evaluate(name, ds, s):
    """[(description, value text, PASS/MISS/n/a)] for the targets."""
    lim = ds["limits"]
    zstd_s = med([row["tar_zstd"]["wall_s"] for row in lim])
    lb_full = s[("full", LB)]["wall_s"]
    lb_mem = [r["maxrss_bytes"] for r in ds["runs"] if r["tool"] == LB]
    rows = []
    for key, desc, kind, thr in TARGETS:
        t = thr[name] if isinstance(thr, dict) else thr
        if key in STEPS:
            v = ratio(s[(key, LB)]["wall_s"], s[(key, PBR)]["wall_s"])
            text = fmt_r(v) + "×" if v is not None else "—"
        elif key == "incr_small_read":
            v = ratio(s[("incr_small", LB)]["read_bytes"], s[("incr_small", PBR)]["read_bytes"])
            text = fmt_r(v) + "×" if v is not None else "—"
        elif key == "durable":
            v = ratio(s[("restore", LB)]["durable_s"], s[("restore", PBR)]["durable_s"])
            text = fmt_r(v) + "×" if v is not None else "—"
        elif key == "repo":
            v = ratio(s[("incr", LB)]["repo_bytes"], s[("incr", PBR)]["repo_bytes"])
            text = fmt_r(v) + "×" if v is not None else "—"
        elif key == "throughput":
            v = None if zstd_s is None or not lb_full else 100.0 * zstd_s / lb_full
            text = "—" if v is None else f"{v:.0f}%"
        else:  # memory
            v = max(lb_mem) if lb_mem else None
            text = fmt_b(v)
        if v is None:
            verdict = "n/a"
        elif kind == "min":
            verdict = "PASS" if v >= t else "MISS"
        else:
            verdict = "PASS" if v <= t else "MISS"
        rows.append((desc.format(t=t), text, verdict))
    return rows


def render_md(data):
    m = data.get("meta", {})
    lines = []
    lines.append(f"# Lifeboat vs pgBackRest — {m.get('started', '?')}")
    lines.append("")
    lines.append(f"SCALE={m.get('scale')}, {m.get('reps')} repetition(s) per tool and step, "
                 f"{m.get('write_seconds')} s of pgbench writes before the incremental and in the PITR burst; "
                 f"both tools zstd level 3, 2 processes. Medians. "
                 f"{'Complete run.' if data.get('complete') else 'PARTIAL: the run did not finish.'}")
    lines.append("")
    lines.append(f"Machine: {m.get('nproc')} cores ({m.get('cpu')}), {fmt_b(m.get('mem_bytes'))} memory, "
                 f"disk: {m.get('disk')}; {m.get('postgres')}; {m.get('pgbackrest')}; lifeboat {m.get('lifeboat')} "
                 f"(commit {m.get('lifeboat_commit')}). "
                 f"Page cache dropped before runs: {m.get('caches_dropped')}.")
    for name, ds in data.get("datasets", {}).items():
        info = ds.get("info", {})
        s = summarize(ds)
        lines.append("")
        comp = ", ".join(f"{n} {c['ratio']:.2f}:1" for n, c in info.get("compression", {}).items())
        lines.append(f"## Dataset `{name}`: database {fmt_b(info.get('database_bytes'))}, data directory "
                     f"without pg_wal {fmt_b(info.get('data_bytes'))}; zstd -3 on table files: {comp or '—'}")
        lines.append("")
        lines.append("| step | Lifeboat | pgBackRest | ratio LB/PBR | LB CPU | PBR CPU | LB peak RSS | PBR peak RSS "
                     "| LB read | PBR read | LB repo | PBR repo | repo ratio |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for step in STEPS:
            a, b = s[(step, LB)], s[(step, PBR)]
            repo = step in ("full", "incr")
            n = f" (n={a['n']}/{b['n']})"
            if step in CHANGE_STEPS:  # repository columns: bytes this backup added
                a, b = dict(a), dict(b)
                a["repo_bytes"], b["repo_bytes"] = a["added_bytes"], b["added_bytes"]
                repo = True
                n += " (repo: bytes added)"
            lines.append(
                f"| {STEP_TITLES[step]}{n} | {fmt_s(a['wall_s'])} | {fmt_s(b['wall_s'])} | "
                f"{fmt_r(ratio(a['wall_s'], b['wall_s']))} | {fmt_s(a['cpu_s'])} | {fmt_s(b['cpu_s'])} | "
                f"{fmt_b(a['maxrss_bytes'])} | {fmt_b(b['maxrss_bytes'])} | {fmt_b(a['read_bytes'])} | "
                f"{fmt_b(b['read_bytes'])} | {fmt_b(a['repo_bytes']) if repo else ''} | "
                f"{fmt_b(b['repo_bytes']) if repo else ''} | "
                f"{fmt_r(ratio(a['repo_bytes'], b['repo_bytes'])) if repo else ''} |")
        a, b = s[("restore", LB)], s[("restore", PBR)]
        lines.append(f"| restore, then `sync -f` of the restored files (durable) | {fmt_s(a['durable_s'])} | "
                     f"{fmt_s(b['durable_s'])} | {fmt_r(ratio(a['durable_s'], b['durable_s']))} "
                     "|  |  |  |  |  |  |  |  |  |")
        lines.append("")
        lines.append("Every run's wall time (s), in repetition order: " + "; ".join(
            f"{step} LB {', '.join(f'{w:.2f}' for w in s[(step, LB)]['walls']) or '—'} / "
            f"PBR {', '.join(f'{w:.2f}' for w in s[(step, PBR)]['walls']) or '—'}" for step in STEPS) + ".")
        methods = []
        for step in ("incr",) + CHANGE_STEPS:
            inc = [r["incremental"] for r in ds["runs"]
                   if r["step"] == step and r["tool"] == LB and r.get("incremental")]
            if inc:
                methods.append(f"{step} " + ", ".join(
                    f"{i['method']} ({i['read_blocks']} blocks read, {i['skipped_blocks']} skipped"
                    + (f"; fallback: {i['fallback_reason']}" if i.get("fallback_reason") else "") + ")"
                    for i in inc))
        if methods:
            lines.append("")
            lines.append("How Lifeboat chose what to read (`backup --json`, per repetition): " + "; ".join(methods) + ".")
        busy = [r["machine_busy_s"] - r["cpu_s"] for r in ds["runs"]
                if r.get("machine_busy_s") is not None and r["step"] in ("full", "incr", "restore")]
        if busy:
            lines.append("")
            lines.append(f"Noise: during the backup and restore runs the machine spent a median "
                         f"{med(busy):.2f} s (max {max(busy):.2f} s) of CPU outside the measured tool "
                         f"(PostgreSQL's own work included); 1-minute load average before the runs: median "
                         f"{med([r.get('loadavg1_before') for r in ds['runs']]):.2f}, max "
                         f"{max(r.get('loadavg1_before') or 0 for r in ds['runs']):.2f}.")
        pa, pb = s[("pitr", LB)]["phases"], s[("pitr", PBR)]["phases"]
        if pa.get("files_seconds") is not None:
            lines.append("")
            lines.append(f"PITR phases (medians): Lifeboat files {fmt_s(pa['files_seconds'])} (of which flushing "
                         f"{fmt_s(pa.get('sync_seconds'))}), WAL replay {fmt_s(pa['replay_seconds'])} (server "
                         f"start-up {fmt_s(pa.get('startup_seconds'))}, redo {fmt_s(pa.get('redo_seconds'))}, "
                         f"end of recovery {fmt_s(pa.get('end_of_recovery_seconds'))}), ready "
                         f"{fmt_s(pa['ready_seconds'])} (its own report); "
                         f"pgBackRest restore command {fmt_s(pb.get('files_seconds'))}, then pg_ctl start, "
                         "recovery and promotion until `NOT pg_is_in_recovery()`.")
        wal = [r for r in ds["runs"] if r["step"].startswith(("wal-push", "wal-fetch", "wal-prefetch"))]
        if wal:
            lines.append("")
            lines.append("Lifeboat's archive commands on one 16 MiB segment of this dataset's WAL, and on one of "
                         "incompressible bytes, and the prefetch process `wal-fetch` starts, on the segments before "
                         "those (they run under PostgreSQL, outside the trees above; they count "
                         "for the memory target): " + ", ".join(
                             f"{r['step']} {fmt_s(r['wall_s'])}, peak RSS {fmt_b(r['maxrss_bytes'])}" for r in wal) + ".")
        lim = ds.get("limits", [])
        if lim:
            data_b = med([row["data_bytes"] for row in lim])
            cat_s = med([row["tar_cat"]["wall_s"] for row in lim])
            zstd_s = med([row["tar_zstd"]["wall_s"] for row in lim])
            lb_full = s[("full", LB)]["wall_s"]
            pbr_full = s[("full", PBR)]["wall_s"]

            def mbps(sec):
                return "—" if not sec or not data_b else f"{data_b / 2**20 / sec:.0f} MiB/s"
            lines.append("")
            z = med([row.get("zstd3_bytes") for row in lim])
            lines.append(f"Machine limits on the same {fmt_b(data_b)} (data directory without pg_wal; "
                         f"zstd -3 ratio of the whole {'—' if not z else f'{data_b / z:.2f}:1'}): "
                         f"`tar | cat` {fmt_s(cat_s)} ({mbps(cat_s)}), `tar | zstd -3 -T2` {fmt_s(zstd_s)} "
                         f"({mbps(zstd_s)}); full backup Lifeboat {mbps(lb_full)}, pgBackRest {mbps(pbr_full)}; "
                         f"Lifeboat at "
                         f"{'—' if not zstd_s or not lb_full else f'{100 * zstd_s / lb_full:.0f}%'} of tar | zstd.")
        lines.append("")
        lines.append("| target | measured | verdict |")
        lines.append("| --- | ---: | --- |")
        for desc, text, verdict in evaluate(name, ds, s):
            lines.append(f"| {desc.replace('|', chr(92) + '|')} | {text} | {verdict} |")
    fails = data.get("failures", [])
    lines.append("")
    if fails:
        lines.append(f"## Failures ({len(fails)})")
        lines.append("")
        for f in fails:
            err = f["error"].replace("\n", " / ")
            lines.append(f"- {f['dataset']} rep {f['rep']} {f['tool']} {f['step']}: {err}")
    else:
        lines.append("No step failed; every PITR check found exactly the rows committed at the target.")
    if data.get("object_storage"):
        lines.append("")
        lines.append("## Object storage and copy (Lifeboat only)")
        lines.append("")
        lines.append("bench/s3_copy.sh in the same run: pgbench data, s3rver on loopback. No peer figure: "
                     "pgBackRest talks to S3 over HTTPS only (s3rver serves plain HTTP), and it cannot copy "
                     "backups between repositories at all.")
        lines.append("")
        lines.append(data["object_storage"].strip())
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# main


def machine_meta(args):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=20).stdout.strip()
        except subprocess.SubprocessError:
            return ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    src = sh(f"df -P '{args.tmp_base}' | awk 'NR==2 {{print $1}}'")
    disk = sh(f"df -hPT '{args.tmp_base}' | awk 'NR==2 {{print $1\" \"$2\" \"$3\" (\"$5\" free)\"}}'")
    rota = " ".join(sh(f"lsblk -ndo ROTA,MODEL '{src}' 2>/dev/null").split())
    return {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "argv": sys.argv[1:],
        "scale": args.scale, "reps": args.reps, "write_seconds": args.write_seconds, "quick": args.quick,
        "nproc": os.cpu_count(), "cpu": cpu, "mem_bytes": mem,
        "disk": disk + (f", lsblk rotational/model: {rota}" if rota else ""),
        "kernel": platform.release(),
        "postgres": sh(f"{PGBIN}/postgres --version"),
        "pgbackrest": sh("pgbackrest version"),
        "zstd": sh("zstd --version"),
        "lifeboat": sh(f"'{args.lifeboat}' --version") or "?",
        "lifeboat_commit": sh(f"git -C '{BENCH_DIR}' rev-parse --short HEAD")
        + (" (uncommitted changes)" if sh(f"git -C '{BENCH_DIR}/..' status --porcelain -- src") else ""),
    }


def main():
    ap = argparse.ArgumentParser(description="Lifeboat vs pgBackRest benchmark (see docs/performance.md)")
    ap.add_argument("--lifeboat", help="lifeboat binary (required unless --render)")
    ap.add_argument("--lifeboat-commit", help="record this as the lifeboat binary's commit (default: this checkout's HEAD)")
    ap.add_argument("--render", metavar="JSON", help="only print the Markdown table of an earlier (or partial) run")
    ap.add_argument("--scale", type=int, default=None, help="pgbench scale; the business data is sized alike (default 100)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per tool and step (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: SCALE=1, 1 repetition, 3 s of writes")
    ap.add_argument("--write-seconds", type=int, default=None, help="pgbench seconds before the incremental and in the PITR burst (default 30)")
    ap.add_argument("--datasets", default="pgbench,business", help="comma-separated: pgbench,business")
    ap.add_argument("--steps", default=",".join(CHANGE_STEPS),
                    help="comma-separated change steps to run (default all: " + ",".join(CHANGE_STEPS) + ")")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--tmp-base", default="/tmp")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            print(render_md(json.load(f)))
        return 0
    if not args.lifeboat:
        ap.error("--lifeboat is required")
    args.scale = args.scale if args.scale is not None else (1 if args.quick else 100)
    args.reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    args.write_seconds = args.write_seconds if args.write_seconds is not None else (3 if args.quick else 30)
    args.lifeboat = os.path.abspath(args.lifeboat)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.steps = [x.strip() for x in args.steps.split(",") if x.strip()]
    if any(x not in CHANGE_STEPS for x in args.steps):
        ap.error(f"bad --steps: choose among {','.join(CHANGE_STEPS)}")
    if any(d not in ("pgbench", "business") for d in datasets) or args.scale < 1 or args.reps < 1 \
            or args.write_seconds < 2:
        ap.error("bad --datasets, --scale, --reps or --write-seconds")
    if not os.access(args.lifeboat, os.X_OK):
        ap.error(f"{args.lifeboat} is not an executable")
    for prog in ("pgbackrest", "zstd", "tar", GNU_TIME, os.path.join(PGBIN, "initdb")):
        if not shutil.which(prog):
            ap.error(f"{prog} not found (bench/run.sh installs it)")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    os.makedirs(args.results, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rec = Recorder(args, os.path.join(args.results, stamp + ".json"), os.path.join(args.results, stamp + ".md"))
    rec.data["meta"] = machine_meta(args)
    if args.lifeboat_commit:
        rec.data["meta"]["lifeboat_commit"] = args.lifeboat_commit
    rec.data["meta"]["caches_dropped"] = drop_caches()
    log(f"SCALE={args.scale} reps={args.reps} writes={args.write_seconds}s datasets={','.join(datasets)}; "
        f"page cache drop {'works' if rec.data['meta']['caches_dropped'] else 'FAILS (bytes read are not meaningful)'}")
    log(f"results: {rec.out_json} and .md")
    rc = 0
    try:
        for d in datasets:
            run_dataset(args, rec, d)
        run_object_storage(args, rec)
        rec.data["complete"] = True
    except (Terminated, KeyboardInterrupt) as e:
        log(f"interrupted ({e}); partial results kept")
        rec.data["failures"].append({"dataset": None, "rep": None, "tool": None, "step": None,
                                     "error": f"interrupted: {e}"})
        rc = 130
    except Exception:  # a bug in the benchmark itself
        rec.data["failures"].append({"dataset": None, "rep": None, "tool": None, "step": None,
                                     "error": "benchmark error: " + traceback.format_exc()})
        traceback.print_exc()
        rc = 1
    finally:
        rec.data["meta"]["seconds"] = time.monotonic() - T0
        rec.save()
        md = rec.save_md()
    print()
    print(md)
    log(f"wrote {rec.out_md} and {rec.out_json}")
    if rc == 0 and rec.data["failures"]:
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
