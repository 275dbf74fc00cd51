#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

Seeds come from the frozen sample repository tests/data/repo-v1 (objects as stored, and their
payloads decoded) and from small hand-made inputs. Run from anywhere; needs the zstd program.
The corpus is committed; rerun this only to add seeds (libFuzzer adds what it finds elsewhere).
"""
import hashlib
import pathlib
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent
REPO = ROOT.parent / "data" / "repo-v1"
CORPUS = ROOT / "corpus"
KINDS = ["config", "pack", "index", "manifest", "wal", "pin", "drill", "cluster"]


def seed(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def payload(obj):
    flags = struct.unpack_from("<I", obj, 16)[0]
    body = obj[24:-32]
    if flags & 1:
        body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
    return body


def envelope(kind_tag, body, flags=0):
    head = b"LIFEBOAT" + kind_tag + struct.pack("<III", 1, flags, 0)
    return head + body + hashlib.sha256(head + body).digest()


objects = {
    "config": (REPO / "config").read_bytes(),
    "pack": [p for p in (REPO / "data").rglob("*") if p.is_file()][0].read_bytes(),
    "index": [p for p in (REPO / "index").iterdir()][0].read_bytes(),
    "manifest": (REPO / "backups" / "20261126T080000Z").read_bytes(),
    "wal": [p for p in (REPO / "wal").rglob("*") if p.is_file()][0].read_bytes(),
}

# Object envelope: the frozen objects, as the expected kind, with and without trailer repair.
for kind, obj in objects.items():
    selector = KINDS.index(kind)
    seed("fuzz_object_envelope", f"{kind}", bytes([selector]) + obj)
    seed("fuzz_object_envelope", f"{kind}-repair", bytes([selector | 0x80]) + obj)
seed("fuzz_object_envelope", "pin-repair",
     bytes([KINDS.index("pin") | 0x80]) +
     envelope(b"PINS", b'{"backup": "20261126T080000Z", "until": null, "created": "2026-11-26T08:00:00Z"}'))
seed("fuzz_object_envelope", "zstd-bomb-header",
     bytes([KINDS.index("manifest") | 0x80]) +
     envelope(b"MNFT", bytes.fromhex("28b52ffd") + b"\x00" * 12, flags=1))

# Pack: the frozen pack's payload; an empty pack (no entries).
seed("fuzz_pack", "frozen", payload(objects["pack"]))
seed("fuzz_pack", "empty", struct.pack("<II", 0, 4))

# Index and manifest: the frozen JSON payloads, and small hand-made ones.
seed("fuzz_index", "frozen", payload(objects["index"]))
seed("fuzz_index", "empty", '{"packs": []}')
seed("fuzz_index", "one-block",
     '{"packs": [{"id": "' + "ab" * 32 + '", "size": 100, "blobs": [["' + "cd" * 32 +
     '", 24, 10, 10, 0]]}]}')
seed("fuzz_manifest", "frozen", payload(objects["manifest"]))
seed("fuzz_manifest", "hostile-paths",
     '{"id": "x", "source": {}, "start_time": "2026-11-26T08:00:00Z", "stop_time": '
     '"2026-11-26T08:00:01Z", "entries": [{"path": "../etc", "type": "dir", "mode": 448}, '
     '{"path": "pg_tblspc/1", "type": "link", "target": "/"}, {"path": "pg_tblspc/1/x", '
     '"type": "file", "mode": 2541, "size": 1, "mtime": 0, "blocks": []}]}')


# WAL: a PostgreSQL 15 segment start with a long page header, a commit record with a valid
# CRC-32C, an XLOG_SWITCH record, and a continuation page; plus text files of the other kinds.
def crc32c(data, crc=0xFFFFFFFF):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc


def record(rmid, info, main):
    data = bytes([255, len(main)]) + main
    total = 24 + len(data)
    head = struct.pack("<IIQBBH", total, 7, 0, info, rmid, 0)
    crc = crc32c(head, crc32c(data)) ^ 0xFFFFFFFF
    return head + struct.pack("<I", crc) + data


def align8(b):
    return b + b"\x00" * (-len(b) % 8)


def wal_segment(timeline, address, segment_size=16 << 20, page=8192):
    long_header = struct.pack("<HHIQIIQII", 0xD110, 0x0002, timeline, address, 0, 0,
                              7312345678901234567, segment_size, page)
    commit_time = 817_372_800_000_000  # 2025-11-26 in PostgreSQL's epoch, microseconds
    body = align8(record(1, 0x00, struct.pack("<q", commit_time)))
    body += align8(record(1, 0x20, struct.pack("<q", commit_time + 1_000_000)))
    body += align8(record(0, 0x40, b""))
    first = (long_header + body).ljust(page, b"\x00")
    second = struct.pack("<HHIQII", 0xD110, 0x0000, timeline, address + page, 0, 0)
    return first + second.ljust(page, b"\x00")


segment_address = 2 * (16 << 20)  # segment 000000010000000000000002
seed("fuzz_wal", "segment", bytes([0]) + wal_segment(1, segment_address))
seed("fuzz_wal", "partial", bytes([1]) + wal_segment(1, segment_address))
seed("fuzz_wal", "parent-pages", bytes([2]) + wal_segment(1, segment_address))
seed("fuzz_wal", "history", bytes([3]) + b"1\t0/2000028\tno recovery target specified\n")
seed("fuzz_wal", "backup-label",
     bytes([4]) + b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                  b"STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)\n")

# WAL summaries: a segment whose records carry block references (one with BKPBLOCK_SAME_REL, one
# with a compressed image with a hole), an smgr truncate and a commit dropping a relation; and a
# summary payload with blocks, a whole relation and a whole database.
def block_record(rmid, info, headers, data, main=b""):
    main_header = bytes([255, len(main)]) if main else b""
    body = headers + main_header + data + main
    total = 24 + len(body)
    head = struct.pack("<IIQBBH", total, 7, 0, info, rmid, 0)
    crc = crc32c(head, crc32c(body)) ^ 0xFFFFFFFF
    return head + struct.pack("<I", crc) + body


def summary_segment(address, segment_size=16 << 20, page=8192):
    long_header = struct.pack("<HHIQIIQII", 0xD110, 0x0002, 1, address, 0, 0,
                              7312345678901234567, segment_size, page)
    rel = struct.pack("<III", 1663, 5, 16384)
    two_blocks = (bytes([0, 0x20]) + struct.pack("<H", 4) + rel + struct.pack("<I", 7) +
                  bytes([1, 0x80 | 0x10 | 2]) + struct.pack("<HHHBH", 0, 10, 64, 0x05, 4000) +
                  struct.pack("<I", 0))
    body = align8(block_record(10, 0x00, two_blocks, b"dddd" + b"i" * 10))
    body += align8(block_record(2, 0x20, b"", b"", struct.pack("<I", 3) + rel + struct.pack("<i", 7)))
    commit = struct.pack("<qII", 1, 0x04, 1) + struct.pack("<III", 1663, 5, 16390)
    body += align8(block_record(1, 0x81, b"", b"", commit))
    body += align8(record(0, 0x40, b""))
    first = (long_header + body).ljust(page, b"\x00")
    second = struct.pack("<HHIQII", 0xD110, 0x0000, 1, address + page, 0, 0)
    return first + second.ljust(page, b"\x00")


seed("fuzz_wal_summary", "segment", bytes([0]) + summary_segment(segment_address))
seed("fuzz_wal_summary", "segment-before", bytes([1]) + summary_segment(segment_address))
seed("fuzz_wal_summary", "segment-next", bytes([2]) + summary_segment(segment_address))
summary_payload = (struct.pack("<IQQBB", 1, 0x2000000, 0x2FFFFF8, 1, 0) + struct.pack("<II", 1, 16500) +
                   struct.pack("<I", 2) +
                   struct.pack("<IIIBI", 1663, 5, 16384, 0, 3) + struct.pack("<III", 1, 7, 300000) +
                   struct.pack("<IIIBI", 1663, 5, 16390, 255, 0))
seed("fuzz_wal_summary", "payload", bytes([3]) + summary_payload)

seed("fuzz_timeline_history", "two", bytes([2]) +
     b"# comment\n1\t0/3000000\tbefore 2026-11-29 17:20:00.123+00\n\n2\t0/5000000\tx\n")
seed("fuzz_timeline_history", "one", bytes([1]) + b"1\t16/B374D848\tno recovery target specified\n")

seed("fuzz_settings", "full", """default_repository = "main"
[repository]
path = "/srv/lifeboat"
compress_level = 3
block_size = 262144
[source]
pg = "host=/tmp port=5432"
pg_timeout = 60
[performance]
jobs = 4
[retention]
window = "7d"
min_backups = 2
daily = 7
[repositories.main]
location = "/srv/lifeboat"
archive = true
[repositories.main.retention]
window = "14d"
[repositories.copy]
location = "s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1"
copy_after_backup = true
key_file = "/etc/lifeboat/copy.key"
""")
seed("fuzz_settings", "window-zero", "[retention]\nwindow = 0\n")

seed("fuzz_s3_xml", "list",
     '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/'
     '2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><IsTruncated>true'
     '</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken><Contents><Key>p/a'
     '&lt;b&gt;&#38;&#x41;</Key><LastModified>2026-11-26T08:00:00.000Z</LastModified><Size>12'
     '</Size></Contents><Contents><Key>p/c</Key><LastModified>2026-11-26T08:00:01Z</LastModified>'
     '<Size>0</Size></Contents></ListBucketResult>')
seed("fuzz_s3_xml", "error",
     '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
seed("fuzz_s3_xml", "empty-list", '<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>')

seed("fuzz_s3_url", "full",
     "s3://bucket/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1&style=path"
     "&verify_tls=false&ca_file=%2Fetc%2Fca.pem")
seed("fuzz_s3_url", "aws", "s3://bucket")
seed("fuzz_s3_url", "virtual", "s3://my.bucket/p/?style=virtual&endpoint=https://[::1]:443")

for i, text in enumerate(["2026-11-26T08:00:00Z", "2026-11-26 08:00:00.123456+01:00",
                          "2026-11-26T08:00:00-0500", "9999-12-31T23:59:59.999999Z",
                          "1970-01-01T00:00:00+14:00", "90s", "30m", "36h", "7d", "36500d", "0"]):
    seed("fuzz_time", f"seed-{i}", text)


# Change log objects (fuzz_pgoutput): a plain transaction with every change kind, and a streamed
# one with a subtransaction abort, behind a session start and a sequence sample.
def msg(kind, body):
    return kind.encode() + body


def rec(kind, lsn, payload):
    return kind.encode() + struct.pack(">QI", lsn, len(payload)) + payload


def tup(*values):
    out = struct.pack(">H", len(values))
    for v in values:
        out += v.encode() if v in ("n", "u") else b"t" + struct.pack(">I", len(v)) + v.encode()
    return out


relation = msg("R", struct.pack(">I", 16384) + b"public\0t\0d" + struct.pack(">H", 2)
               + b"\x01id\0" + struct.pack(">Ii", 23, -1) + b"\x00v\0" + struct.pack(">Ii", 25, -1))
plain = [msg("B", struct.pack(">QQI", 0x500, 1000000, 700)),
         msg("I", struct.pack(">I", 16384) + b"N" + tup("1", "a")),
         msg("U", struct.pack(">I", 16384) + b"K" + tup("1", "n") + b"N" + tup("2", "u")),
         msg("D", struct.pack(">I", 16384) + b"K" + tup("2", "n")),
         msg("T", struct.pack(">IBI", 1, 3, 16384)),
         msg("M", b"\x01" + struct.pack(">Q", 0x501) + b"lifeboat.ddl\0" + struct.pack(">I", 5) + b"CHECK"),
         msg("C", b"\x00" + struct.pack(">QQQ", 0x500, 0x528, 1000001))]
streamed = [msg("S", struct.pack(">IB", 900, 1)),
            msg("I", struct.pack(">II", 900, 16384) + b"N" + tup("3", "b")),
            msg("I", struct.pack(">II", 901, 16384) + b"N" + tup("4", "sub")),
            msg("E", b""),
            msg("A", struct.pack(">II", 900, 901)),
            msg("c", struct.pack(">IBQQQ", 900, 0, 0x600, 0x610, 1000002))]
head = b"LBCL\x01" + rec("X", 0x400, b"") + rec("R", 0x400, relation)
seed("fuzz_pgoutput", "plain", head + b"".join(rec("M", 0x500 + i, m) for i, m in enumerate(plain)))
seed("fuzz_pgoutput", "streamed",
     head + b"".join(rec("M", 0x580 + i, m) for i, m in enumerate(streamed))
     + rec("S", 0x620, b"public\tt_id_seq\t4\tt"))

# One stored block (fuzz_block_frame): u32le claimed length, then a zstd frame, alone (as blocks
# were stored before they carried a checksum) and followed by a checksum frame whose checksum is
# wrong (the seed cannot compute XXH3; the unit tests cover matching ones).
text = b"".join(b"row %06d of the seed block\n" % i for i in range(400))
frame = subprocess.run(["zstd", "-3", "-c"], input=text, capture_output=True, check=True).stdout
seed("fuzz_block_frame", "frame", struct.pack("<I", len(text)) + frame)
seed("fuzz_block_frame", "frame-and-checksum",
     struct.pack("<I", len(text)) + frame + struct.pack("<II", 0x184D2A5C, 16) + bytes(16))
