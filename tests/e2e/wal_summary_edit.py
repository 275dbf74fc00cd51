#!/usr/bin/env python3
"""Rewrites WAL summary objects of a plain (unencrypted) repository for the e2e tests.

    wal_summary_edit.py drop-relation RELFILENODE FILE...   remove the relation's blocks
    wal_summary_edit.py mark-incomplete FILE...              mark them incomplete (as a push
                                                             that missed the next segment's head)
    wal_summary_edit.py show FILE                            print the relations and block counts

The object is the repository envelope (docs/repository-format.md): a 24-byte header
("LIFEBOAT", "WSUM", version, flags, reserved), the zstd-compressed payload, and a SHA-256 of
everything before it. A rewritten object is valid and well-formed, but wrong: exactly what
`backup --verify-unchanged` must catch.
"""
import hashlib
import struct
import subprocess
import sys
import tempfile


def unpack(path):
    data = open(path, "rb").read()
    header, body, trailer = data[:24], data[24:-32], data[-32:]
    if header[:12] != b"LIFEBOATWSUM" or hashlib.sha256(data[:-32]).digest() != trailer:
        return None, None  # damaged (by the test itself): left as it is
    payload = subprocess.run(["zstd", "-d", "-c", "-q"], input=body, stdout=subprocess.PIPE, check=True).stdout
    return header, payload


def parse(payload):
    timeline, start, end, complete, whole = struct.unpack_from("<IQQBB", payload, 0)
    at = 22
    (ndb,) = struct.unpack_from("<I", payload, at)
    at += 4
    dbs = list(struct.unpack_from(f"<{ndb}I", payload, at))
    at += 4 * ndb
    (nrel,) = struct.unpack_from("<I", payload, at)
    at += 4
    rels = []
    for _ in range(nrel):
        spc, db, rel, fork, n = struct.unpack_from("<IIIBI", payload, at)
        at += 17
        blocks = list(struct.unpack_from(f"<{n}I", payload, at))
        at += 4 * n
        rels.append((spc, db, rel, fork, blocks))
    return (timeline, start, end, complete, whole, dbs, rels)


def encode(s):
    timeline, start, end, complete, whole, dbs, rels = s
    out = struct.pack("<IQQBB", timeline, start, end, complete, whole)
    out += struct.pack("<I", len(dbs)) + b"".join(struct.pack("<I", d) for d in dbs)
    out += struct.pack("<I", len(rels))
    for spc, db, rel, fork, blocks in rels:
        out += struct.pack("<IIIBI", spc, db, rel, fork, len(blocks))
        out += b"".join(struct.pack("<I", b) for b in blocks)
    return out


def main():
    if sys.argv[1] == "show":
        _, payload = unpack(sys.argv[2])
        s = parse(payload)
        print(f"timeline {s[0]} start {s[1]:X} end {s[2]:X} complete {s[3]} whole_cluster {s[4]}")
        for spc, db, rel, fork, blocks in s[6]:
            print(f"{spc}/{db}/{rel} fork {fork}: {len(blocks)} blocks")
        return
    assert sys.argv[1] in ("drop-relation", "mark-incomplete")
    relation = int(sys.argv[2]) if sys.argv[1] == "drop-relation" else None
    changed = 0
    for path in sys.argv[3 if relation is not None else 2:]:
        header, payload = unpack(path)
        if header is None:
            continue
        s = list(parse(payload))
        if relation is None:
            changed += 1
            s[3] = 0
        else:
            kept = [r for r in s[6] if r[2] != relation]
            changed += len(s[6]) - len(kept)
            s[6] = kept
        # From a file, so that the frame records its size (Lifeboat's reader needs it).
        with tempfile.NamedTemporaryFile() as raw:
            raw.write(encode(s))
            raw.flush()
            body = subprocess.run(["zstd", "-3", "-c", "-q", raw.name], stdout=subprocess.PIPE,
                                  check=True).stdout
        data = header + body
        with open(path, "wb") as f:
            f.write(data + hashlib.sha256(data).digest())
    print(changed)


main()
