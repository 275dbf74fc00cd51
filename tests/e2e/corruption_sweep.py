#!/usr/bin/env python3
"""The corruption sweep of test_corruption_sweep.sh (issue 12, item 3).

Flips one byte at FLIPS seeded random offsets spread over every kind of repository object, one
flip at a time (flip, check, flip back), in a private copy of each repository per worker:
`verify` must fail and name the object (and, for what backups read, the backups affected); for
every SAMPLE-th flip of each kind a restore of an affected backup must refuse or give exactly the source's
data. Prints the figures and exits 1 on any undetected flip or silently different restore.

Usage: corruption_sweep.py --lifeboat BIN --work DIR --variant NAME=REPO[:KEYFILE] ...
       --expected-md5 MD5 --conninfo-host DIR [--seed N] [--flips N] [--sample N] [--workers N]
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

BACKUP_ID = re.compile(r"\b\d{8}T\d{6}Z(?:_\d+)?\b")
PG_USER = "postgres"
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")

# Object kinds by key (docs/repository-format.md, "Layout"). Locks are not here: they exist only
# while an operation runs (deleted on release), carry no envelope by design, and hold no data.
KINDS = [
    ("config", re.compile(r"^config$")),
    ("pack", re.compile(r"^data/[0-9a-f]{2}/[0-9a-f]{64}$")),
    ("index", re.compile(r"^index/[0-9a-f]{64}$")),
    ("manifest", re.compile(r"^backups/[^/]+$")),
    ("wal-history", re.compile(r"^wal/history/[^/]+$")),
    ("wal-backup-label", re.compile(r"^wal/[0-9A-F]{16}/[0-9A-F]{24}\.[0-9A-F]{8}\.backup$")),
    ("wal", re.compile(r"^wal/[0-9A-F]{16}/[^/]+$")),
    ("pin", re.compile(r"^pins/[^/]+$")),
    ("drill", re.compile(r"^drills/[^/]+$")),
    ("cluster", re.compile(r"^cluster$")),
    ("wal-summary", re.compile(r"^wal-summaries/[0-9A-F]{24}$")),
]
# Kinds a backup's restore reads; the others must be named by verify, not tied to a backup.
READ_BY_RESTORE = {"config", "pack", "index", "manifest", "wal", "wal-backup-label", "wal-history"}
# Kinds whose damage verify must tie to the backups that need them.
NAMES_BACKUPS = {"pack", "index", "manifest", "pin"}
# Kinds only a started server reads (through restore_command).
READ_BY_REPLAY = {"wal", "wal-history"}


def as_pg(cmd):
    return (["runuser", "-u", PG_USER, "--"] + cmd) if os.getuid() == 0 else cmd


def run(cmd, env=None, timeout=300):
    return subprocess.run(as_pg(cmd), capture_output=True, text=True, errors="replace", env=env,
                          timeout=timeout)


def kind_of(key):
    for name, pattern in KINDS:
        if pattern.match(key):
            return name
    return None


def objects_of(repo):
    out = {}
    for root, _, files in os.walk(repo):
        for f in files:
            key = os.path.relpath(os.path.join(root, f), repo)
            kind = kind_of(key)
            if kind is None:
                if key.startswith(("locks/", "tmp/")):
                    raise SystemExit(f"unexpected leftover {key} in {repo}")
                raise SystemExit(f"object of unknown kind: {key} (add it to KINDS)")
            out.setdefault(kind, []).append(key)
    return {k: sorted(v) for k, v in out.items()}


def tree_digest(path):
    """Every file's relative path, mode and content, and every directory and link, hashed."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            st = os.lstat(full)
            h.update(f"{rel}\0{st.st_mode:o}\0".encode())
            if os.path.islink(full):
                h.update(os.readlink(full).encode())
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def free_port():
    while True:
        port = random.SystemRandom().randrange(20000, 50000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def remove_instance(target):
    if os.path.exists(os.path.join(target, "postmaster.pid")):
        subprocess.run(as_pg([f"{PGBIN}/pg_ctl", "-D", target, "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
    shutil.rmtree(target, ignore_errors=True)


class Variant:
    def __init__(self, spec):
        name, rest = spec.split("=", 1)
        repo, _, key = rest.partition(":")
        self.name, self.repo, self.key = name, repo, key or None

    def env(self):
        env = dict(os.environ)
        env.pop("LIFEBOAT_KEY_FILE", None)
        if self.key:
            env["LIFEBOAT_KEY_FILE"] = self.key
        return env


class Worker:
    """A private copy of every variant's repository, and a restore target."""

    def __init__(self, n, args, variants):
        self.n, self.args = n, args
        self.dir = os.path.join(args.work, f"w{n}")
        os.makedirs(self.dir)
        self.repos = {}
        for v in variants:
            copy = os.path.join(self.dir, v.name)
            subprocess.run(["cp", "-a", v.repo, copy], check=True)
            self.repos[v.name] = copy
        self.target = os.path.join(self.dir, "restored")
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", f"{PG_USER}:", self.dir], check=True)
        self.reference = {}  # (variant, backup) -> tree digest of an intact restore

    def lifeboat(self, variant, *cmd, timeout=300):
        return run([self.args.lifeboat, *cmd], env=variant.env(), timeout=timeout)

    def restore_files(self, variant, backup):
        remove_instance(self.target)
        r = self.lifeboat(variant, "restore", "--repo", self.repos[variant.name], "--backup",
                          backup, "--to", "consistent", "--target-dir", self.target, "--jobs", "1")
        digest = tree_digest(self.target) if r.returncode == 0 else None
        remove_instance(self.target)
        return r, digest

    def restore_started(self, variant, backup):
        """Restore to latest, start, and read the table's checksum: WAL is read only by replay."""
        remove_instance(self.target)
        r = self.lifeboat(variant, "restore", "--repo", self.repos[variant.name], "--backup",
                          backup, "--to", "latest", "--target-dir", self.target, "--start",
                          "--port", str(free_port()), "--jobs", "1", "--json", timeout=600)
        md5 = None
        if r.returncode == 0:
            conninfo = json.loads(r.stdout)["conninfo"]
            q = subprocess.run(as_pg(["psql", "-X", "-A", "-t", "-q", conninfo, "-c",
                                      self.args.checksum_sql]),
                               capture_output=True, text=True, errors="replace")
            md5 = q.stdout.strip() if q.returncode == 0 else f"query failed: {q.stderr.strip()}"
        remove_instance(self.target)
        return r, md5


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lifeboat", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--variant", action="append", required=True)
    p.add_argument("--expected-md5", required=True)
    p.add_argument("--checksum-sql", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--flips", type=int, default=1000)
    p.add_argument("--sample", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated flip numbers (to rerun some)")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"seed {seed} (rerun with SWEEP_SEED={seed})", flush=True)
    rng = random.Random(seed)
    variants = [Variant(s) for s in args.variant]

    # The plan: kinds taken in turn (so each gets its share however small its objects), then an
    # object of that kind, then an offset in it, then the byte to XOR with.
    strata = []
    for v in variants:
        for kind, keys in objects_of(v.repo).items():
            strata.append((v, kind, keys))
    print("objects: " + ", ".join(f"{v.name}/{k} {len(keys)}" for v, k, keys in strata),
          flush=True)
    plan = []
    for i in range(args.flips):
        v, kind, keys = strata[i % len(strata)]
        key = rng.choice(keys)
        size = os.path.getsize(os.path.join(v.repo, key))
        plan.append((i, v, kind, key, rng.randrange(size), rng.randrange(1, 256)))

    workers = [Worker(n, args, variants) for n in range(args.workers)]
    backups = {}
    for v in variants:
        backups[v.name] = sorted(os.listdir(os.path.join(v.repo, "backups")))
        for w in workers:
            for b in backups[v.name]:
                r, digest = w.restore_files(v, b)
                if digest is None:
                    raise SystemExit(f"reference restore of {v.name} {b} failed: {r.stderr}")
                w.reference[(v.name, b)] = digest

    stats = {}
    failures = []
    examples = {}  # (variant, kind) -> what verify said about the first flip there
    lock = threading.Lock()

    def record(v, kind, field, n=1):
        with lock:
            s = stats.setdefault((v.name, kind), {"flips": 0, "detected": 0, "named": 0,
                                                  "restores": 0, "refused": 0, "equal": 0,
                                                  "different": 0})
            s[field] += n

    def check(w, item):
        i, v, kind, key, offset, xor = item
        path = os.path.join(w.repos[v.name], key)
        with open(path, "r+b") as f:
            f.seek(offset)
            original = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([original ^ xor]))
        what = f"flip #{i} {v.name} {key} @{offset} ^0x{xor:02x}"
        try:
            record(v, kind, "flips")
            r = w.lifeboat(v, "verify", "--repo", w.repos[v.name], "--jobs", "1", "--json")
            report = {}
            try:
                report = json.loads(r.stdout) if r.stdout.strip() else {}
            except json.JSONDecodeError:
                pass
            problems = report.get("problems", [])
            named_here = [pr for pr in problems
                          if key in pr["object"] or os.path.basename(key) in pr["object"]]
            if r.returncode == 0:
                with lock:
                    failures.append(f"UNDETECTED {what}")
                return
            record(v, kind, "detected")
            # Named: in a problem's object, or in the one-line error when verify could not start.
            affected = set()
            for pr in named_here:
                for a in pr.get("affected", []):
                    affected.update(BACKUP_ID.findall(a))
            named = bool(named_here) or (
                not problems and (key in r.stderr or os.path.basename(key) in r.stderr))
            # What backups read from must also say which backups it affects.
            if kind in NAMES_BACKUPS and not affected:
                named = False
            if named:
                record(v, kind, "named")
                with lock:
                    if (v.name, kind) not in examples:
                        shown = (f"PROBLEM {named_here[0]['object']}: "
                                 f"{named_here[0]['message'][:160]} "
                                 f"(affects {', '.join(named_here[0].get('affected', [])[:2])})"
                                 if named_here else r.stderr.strip()[:200])
                        examples[(v.name, kind)] = f"exit {r.returncode}: {shown}"
            else:
                with lock:
                    failures.append(f"NOT NAMED {what}: exit {r.returncode}, problems "
                                    f"{[pr['object'] for pr in problems]}, stderr "
                                    f"{r.stderr.strip()[:300]}")
            # Every SAMPLE-th flip of each kind, so that every kind has its restores.
            if (i // len(strata)) % args.sample != 0:
                return
            # A restore of an affected backup (the oldest, whose replay reads the most WAL).
            candidates = sorted(affected) or backups[v.name]
            backup = candidates[0]
            record(v, kind, "restores")
            if kind in READ_BY_REPLAY:
                rr, got = w.restore_started(v, backup)
                want = args.expected_md5
            else:
                rr, got = w.restore_files(v, backup)
                want = w.reference[(v.name, backup)]
            same = got == want
            if rr.returncode != 0:
                record(v, kind, "refused")
            elif same:
                record(v, kind, "equal")
            else:
                record(v, kind, "different")
                with lock:
                    failures.append(f"SILENTLY DIFFERENT restore of {backup} after {what}: "
                                    f"{got} instead of {want}; restore said "
                                    f"{rr.stdout.strip()[-600:]} {rr.stderr.strip()[-600:]}")
        finally:
            with open(path, "r+b") as f:
                f.seek(offset)
                f.write(bytes([original]))

    started = time.monotonic()
    only = {int(n) for n in args.only.split(",") if n}
    queue = [item for item in plan if not only or item[0] in only]

    def work(w):
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop(0)
            try:
                check(w, item)
            except Exception as e:  # noqa: BLE001 - reported as a failure, the sweep goes on
                with lock:
                    failures.append(f"ERROR in flip #{item[0]} {item[3]}: {e!r}")

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    # Every byte was put back: each copy must verify as the original does.
    for w in workers:
        for v in variants:
            r = w.lifeboat(v, "verify", "--repo", w.repos[v.name], "--jobs", "1")
            if r.returncode != 0:
                failures.append(f"worker {w.n}'s copy of {v.name} does not verify after the "
                                f"sweep: {r.stderr.strip()}")

    fields = ["flips", "detected", "named", "restores", "refused", "equal", "different"]
    print(f"{'variant/kind':28}" + "".join(f"{f:>10}" for f in fields))
    total = {f: 0 for f in fields}
    for (vname, kind), s in sorted(stats.items()):
        print(f"{vname + '/' + kind:28}" + "".join(f"{s[f]:>10}" for f in fields))
        for f in fields:
            total[f] += s[f]
    print(f"{'total':28}" + "".join(f"{total[f]:>10}" for f in fields))
    print(f"flips {total['flips']}, detected {total['detected']} "
          f"({100.0 * total['detected'] / max(1, total['flips']):.1f}%), named "
          f"{total['named']}; restores tried {total['restores']}: refused {total['refused']}, "
          f"equal {total['equal']}, silently different {total['different']} (must be 0); "
          f"{elapsed:.0f} s with {len(workers)} workers, seed {seed}")
    print("what verify said, one example per kind:")
    for (vname, kind), example in sorted(examples.items()):
        print(f"  {vname}/{kind}: {example}")
    print("not swept: locks (locks/exclusive, locks/shared-*): present only while an operation "
          "runs, deleted on release, JSON without an envelope by design; a damaged one is read "
          "as a lock that cannot be judged, never as data")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
